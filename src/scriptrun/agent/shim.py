"""The per-run shim: supervises one run's processes, independent of the agent.

Run as ``python -S shim.py <run dir>`` (stdlib only, self-contained: it is executed as a
file, never imported from the package). It reads ``launch.json``, starts each process in its
own process group, copies its output to ``logs/<name>.txt``, enforces the run's deadline and
cancellation (SIGTERM to the shim) with SIGTERM then SIGKILL to every process group, stops
the others when one process fails, and finally writes ``exit.json``. It holds an exclusive
``flock`` on ``shim.lock`` for its whole life, so the agent (or a restarted agent) can tell
a live shim from a dead one without trusting pids.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import subprocess
import sys
import time

TAIL_BYTES = 8192


class Shim:
    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        with open(os.path.join(run_dir, "launch.json")) as fh:
            self.launch = json.load(fh)
        self.cancel_requested = False
        self.procs: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []
        self.tails: dict[str, bytes] = {}

    def _write_json(self, name: str, data: dict) -> None:
        path = os.path.join(self.run_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def run(self) -> int:
        lock_fd = os.open(os.path.join(self.run_dir, "shim.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another shim already owns this run
        if os.path.exists(os.path.join(self.run_dir, "exit.json")):
            return 0
        signal.signal(signal.SIGTERM, self._on_cancel)
        signal.signal(signal.SIGINT, self._on_cancel)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        logs = os.path.join(self.run_dir, "logs")
        os.makedirs(logs, exist_ok=True)
        started = time.time()
        sel = selectors.DefaultSelector()
        log_fds: dict[str, int] = {}
        for spec in self.launch["processes"]:
            name = spec["name"]
            log_fds[name] = os.open(os.path.join(logs, name + ".txt"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                proc = subprocess.Popen(spec["argv"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            except OSError as exc:
                message = f"cannot start {spec['argv'][0]!r}: {exc.strerror or exc}\n"
                os.write(log_fds[name], message.encode())
                self._kill_all(grace=float(self.launch.get("grace_seconds", 10)))
                self._finish(started, 127, "failed", name, message.encode())
                return 0
            self.procs.append(proc)
            self.names.append(name)
            self.tails[name] = b""
            sel.register(proc.stdout, selectors.EVENT_READ, (name, False))
            sel.register(proc.stderr, selectors.EVENT_READ, (name, True))
        self._write_json("shim.json", {"pid": os.getpid(), "started": started,
                                       "pids": [p.pid for p in self.procs]})
        timeout = self.launch.get("timeout_seconds")
        deadline = started + timeout if timeout else None
        grace = float(self.launch.get("grace_seconds", 10))
        reason = None
        failed_name = None
        open_streams = 2 * len(self.procs)
        all_exited_at = None
        while True:
            for key, _ in sel.select(timeout=0.1):
                name, is_err = key.data
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                os.write(log_fds[name], chunk)
                if is_err:
                    self.tails[name] = (self.tails[name] + chunk)[-TAIL_BYTES:]
            codes = [p.poll() for p in self.procs]
            if reason is None:
                if self.cancel_requested:
                    reason = "canceled"
                elif deadline is not None and time.time() > deadline:
                    reason = "timeout"
                else:
                    bad = [i for i, c in enumerate(codes) if c not in (None, 0)]
                    if bad and any(c is None for c in codes):
                        reason, failed_name = "failed", self.names[bad[0]]
                if reason is not None:
                    self._kill_all(grace)
            if all(c is not None for c in codes):
                all_exited_at = all_exited_at or time.time()
                # a daemonised grandchild may keep a pipe open: don't wait on it for long
                if open_streams == 0 or reason is not None or time.time() - all_exited_at > 2:
                    break
        for proc in self.procs:  # leave nothing of the run's process groups behind
            _killpg(proc.pid, signal.SIGKILL)
        for key in list(sel.get_map().values()):
            os.set_blocking(key.fd, False)
            try:
                while chunk := os.read(key.fd, 65536):
                    os.write(log_fds[key.data[0]], chunk)
            except OSError:
                pass
        codes = [p.returncode for p in self.procs]
        if failed_name is None:
            bad = [i for i, c in enumerate(codes) if c != 0]
            if bad:
                failed_name = self.names[bad[0]]
        exit_code = codes[self.names.index(failed_name)] if failed_name else 0
        if reason is None:
            reason = "failed" if failed_name else "completed"
        self._finish(started, exit_code, reason, failed_name, self.tails.get(failed_name or "", b""))
        return 0

    def _finish(self, started: float, exit_code: int, reason: str, failed: str | None, tail: bytes) -> None:
        self._write_json("exit.json", {
            "exit_code": exit_code, "reason": reason, "failed_process": failed,
            "started": started, "ended": time.time(),
            "stderr_tail": tail.decode("utf-8", errors="replace"),
        })

    def _on_cancel(self, signum: int, frame: object) -> None:
        self.cancel_requested = True

    def _kill_all(self, grace: float) -> None:
        """SIGTERM every process group, then SIGKILL whatever is left after ``grace`` s."""
        for proc in self.procs:
            _killpg(proc.pid, signal.SIGTERM)
        end = time.time() + grace
        while time.time() < end and any(p.poll() is None for p in self.procs):
            time.sleep(0.05)
        for proc in self.procs:
            _killpg(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


if __name__ == "__main__":
    sys.exit(Shim(sys.argv[1]).run())
