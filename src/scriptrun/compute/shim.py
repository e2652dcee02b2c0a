"""The per-run shim: supervises one run's processes, independent of the agent.

Run as ``python -S shim.py <run dir>`` (stdlib only, self-contained: it is executed as a
file by the local backend, and imported by the Ray driver to supervise each node's
processes the same way). It reads ``launch.json``, starts each process in its
own process group, copies its output to ``logs/<name>.txt``, retries a failed process when
its plan allows, enforces the run's deadline and cancellation (SIGTERM to the shim) with
SIGTERM then SIGKILL to every process group, stops the others when one process fails, and
finally writes ``exit.json``. It holds an exclusive ``flock`` on ``shim.lock`` for its whole
life, so the agent (or a restarted agent) can tell a live shim from a dead one without
trusting pids.

The file names below are those of :mod:`scriptrun.rundir` (a test checks they match); the
shim keeps its own copies because it runs with ``python -S``, outside the package.
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
LAUNCH_FILE = "launch.json"
SHIM_FILE = "shim.json"
SHIM_LOCK = "shim.lock"
EXIT_FILE = "exit.json"
LOGS_DIR = "logs"
SECRETS_VAR = "SCRIPTRUN_SECRETS"  # compute/backend.py: the run's secrets, in the shim's own environment
SECRET_NAMES_VAR = "SCRIPTRUN_SECRET_NAMES"


class Shim:
    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        with open(os.path.join(run_dir, LAUNCH_FILE)) as fh:
            self.launch = json.load(fh)
        self.logs = self.launch.get("logs_dir") or os.path.join(run_dir, LOGS_DIR)
        self.specs: list[dict] = self.launch["processes"]
        self.grace = float(self.launch.get("grace_seconds", 10))
        self.cancel_requested = False
        self.sel = selectors.DefaultSelector()
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(self.specs)
        self.attempts = [0] * len(self.specs)
        self.log_fds: list[int] = []
        self.tails = [b""] * len(self.specs)
        self.open_streams = 0
        self.secrets: dict[str, str] = json.loads(os.environ.get(SECRETS_VAR) or "{}")

    def _write_json(self, name: str, data: dict) -> None:
        path = os.path.join(self.run_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def _start(self, i: int) -> None:
        spec = self.specs[i]
        env = dict(spec["env"], SCRIPTRUN_ATTEMPT=str(self.attempts[i]))
        env.update(self.secrets)
        proc = subprocess.Popen(spec["argv"], cwd=spec["cwd"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.procs[i] = proc
        self.sel.register(proc.stdout, selectors.EVENT_READ, (i, False))
        self.sel.register(proc.stderr, selectors.EVENT_READ, (i, True))
        self.open_streams += 2

    def run(self) -> int:
        lock_fd = os.open(os.path.join(self.run_dir, SHIM_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another shim already owns this run
        if os.path.exists(os.path.join(self.run_dir, EXIT_FILE)):
            return 0
        # SIGINT also arrives as Ray's task cancellation (a simulated KeyboardInterrupt)
        try:
            signal.signal(signal.SIGTERM, self._on_cancel)
            signal.signal(signal.SIGINT, self._on_cancel)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        except ValueError:  # not the main thread (a Ray task): cancellation arrives as KeyboardInterrupt
            pass
        os.makedirs(self.logs, exist_ok=True)
        started = time.time()
        declared = {n for spec in self.specs for n in spec["env"].get(SECRET_NAMES_VAR, "").split(",") if n}
        missing = sorted(declared - set(self.secrets))
        if missing:  # e.g. a supervisor restarted by a new agent: the values lived in the old one's memory
            self._finish(started, 1, "failed", "secrets", (
                f"the values of secret environment variable(s) {', '.join(missing)} did not reach this run's "
                "supervisor (the agent that held them restarted before the run started); resubmit the run, "
                "or store them in .scriptrun/secrets.env\n").encode())
            return 0
        for i, spec in enumerate(self.specs):
            path = os.path.join(self.logs, spec["name"] + ".txt")
            self.log_fds.append(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
            try:
                self._start(i)
            except OSError as exc:
                message = f"cannot start {spec['argv'][0]!r}: {exc.strerror or exc}\n".encode()
                os.write(self.log_fds[i], message)
                self._kill_all()
                self._finish(started, 127, "failed", spec["name"], message)
                return 0
        self._write_json(SHIM_FILE, {"pid": os.getpid(), "started": started,
                                       "pids": [p.pid for p in self.procs if p]})
        reason, failed = self._supervise(started)
        self._finish(started, *self._outcome(reason, failed))
        return 0

    def _supervise(self, started: float) -> tuple[str | None, int | None]:
        timeout = self.launch.get("timeout_seconds")
        deadline = started + timeout if timeout else None
        reason: str | None = None
        failed: int | None = None
        all_exited_at = None
        while True:
            try:
                self._pump(0.1)
            except KeyboardInterrupt:
                self.cancel_requested = True
            codes = [p.poll() if p else None for p in self.procs]
            if reason is None:
                for i, code in enumerate(codes):
                    if code not in (None, 0) and self._should_retry(i, code):
                        os.write(self.log_fds[i], f"\n--- exit code {code}; retry {self.attempts[i] + 1} of "
                                                  f"{self.specs[i].get('max_retries', 0)} ---\n".encode())
                        self.attempts[i] += 1
                        self._start(i)
                        codes[i] = None
                if self.cancel_requested:
                    reason = "canceled"
                elif deadline is not None and time.time() > deadline:
                    reason = "timeout"
                else:
                    bad = [i for i, c in enumerate(codes) if c not in (None, 0)]
                    if bad and any(c is None for c in codes):
                        reason, failed = "failed", bad[0]
                if reason is not None:
                    self._kill_all()
            if all(c is not None for c in codes):
                all_exited_at = all_exited_at or time.time()
                # a daemonised grandchild may keep a pipe open: don't wait on it for long
                if self.open_streams == 0 or reason is not None or time.time() - all_exited_at > 2:
                    return reason, failed

    def _should_retry(self, i: int, code: int) -> bool:
        spec = self.specs[i]
        return (not self.cancel_requested and self.attempts[i] < spec.get("max_retries", 0)
                and code not in spec.get("terminal_exit_codes", ()))

    def _pump(self, timeout: float) -> None:
        for key, _ in self.sel.select(timeout=timeout):
            i, is_err = key.data
            chunk = os.read(key.fd, 65536)
            if not chunk:
                self.sel.unregister(key.fileobj)
                key.fileobj.close()
                self.open_streams -= 1
                continue
            os.write(self.log_fds[i], chunk)
            if is_err:
                self.tails[i] = (self.tails[i] + chunk)[-TAIL_BYTES:]

    def _outcome(self, reason: str | None, failed: int | None) -> tuple[int, str, str | None, bytes]:
        for proc in self.procs:  # leave nothing of the run's process groups behind
            if proc:
                _killpg(proc.pid, signal.SIGKILL)
        for key in list(self.sel.get_map().values()):
            os.set_blocking(key.fd, False)
            try:
                while chunk := os.read(key.fd, 65536):
                    os.write(self.log_fds[key.data[0]], chunk)
            except OSError:
                pass
        codes = [p.returncode if p else 127 for p in self.procs]
        if failed is None:
            bad = [i for i, c in enumerate(codes) if c != 0]
            failed = bad[0] if bad else None
        if failed is None:
            return 0, reason or "completed", None, b""
        name, code, tail = self.specs[failed]["name"], codes[failed], self.tails[failed]
        rank = _first_failed_rank(self.logs)  # an MPI job: name the rank, not mpirun
        if rank is not None:
            name, code, tail = rank
        return code, reason or "failed", name, tail

    def _finish(self, started: float, exit_code: int, reason: str, failed: str | None, tail: bytes) -> None:
        self._write_json(EXIT_FILE, {
            "exit_code": exit_code, "reason": reason, "failed_process": failed,
            "started": started, "ended": time.time(), "attempts": self.attempts,
            "stderr_tail": tail.decode("utf-8", errors="replace"),
        })

    def _on_cancel(self, signum: int, frame: object) -> None:
        self.cancel_requested = True

    def _kill_all(self) -> None:
        """SIGTERM every process group, then SIGKILL whatever is left after the grace period."""
        procs = [p for p in self.procs if p]
        for proc in procs:
            _killpg(proc.pid, signal.SIGTERM)
        end = time.time() + self.grace
        while time.time() < end and any(p.poll() is None for p in procs):
            self._pump(0.05)
        for proc in procs:
            _killpg(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait()


def _first_failed_rank(logs: str) -> tuple[str, int, bytes] | None:
    """The MPI rank that failed first (from the rank wrappers' ``rank_<n>.exit`` files)."""
    failures = []
    for entry in os.listdir(logs):
        if entry.startswith("rank_") and entry.endswith(".exit"):
            try:
                with open(os.path.join(logs, entry)) as fh:
                    info = json.load(fh)
            except (OSError, ValueError):
                continue
            if info.get("exit_code"):
                failures.append((info.get("ended", 0), entry[:-5], int(info["exit_code"])))
    if not failures:
        return None
    _, name, code = min(failures)
    return name, code, read_tail(os.path.join(logs, name + ".txt"))


def read_tail(path: str) -> bytes:
    """The last ``TAIL_BYTES`` of a log file."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - TAIL_BYTES))
        return fh.read()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


if __name__ == "__main__":
    sys.exit(Shim(sys.argv[1]).run())
