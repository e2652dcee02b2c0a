"""The per-workspace agent: single writer of the tracking store, run queue, metric ingester.

One agent per workspace (it holds ``.scriptrun/agent.lock``), listening on a 0600 Unix
socket. It creates runs in MLflow, queues them under ``max_concurrent_runs``, prepares each
run's working copy and starts its shim, ingests metrics files into MLflow in batches,
finalises runs (uploads ``outputs/`` and logs, records the end state), answers clients,
and exits after ``agent_idle_timeout_seconds`` with nothing to do. Runs survive the agent:
on start it re-adopts every unfinished run from its folder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import socketserver
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from scriptrun.agent.ray_runs import RAY_MARKER, RayRuns
from scriptrun.agent.requests import AgentRequests
from scriptrun.agent.runstate import STATUS_FILE, RunRecord, lineage_tags, outcome_status, shim_alive
from scriptrun.agent.tracking import Tracking
from scriptrun.compute import local
from scriptrun.compute.targets import RAY, target_definitions
from scriptrun.errors import ScriptrunError
from scriptrun.rundir import METRICS_FILE, RunStatus, read_records
from scriptrun.spec import EnvironmentSpec, JobSpec
from scriptrun.workspace import Workspace

log = logging.getLogger("scriptrun.agent")
INGEST_INTERVAL = 0.5
ADOPT_POLL = 0.1


class Agent(AgentRequests, RayRuns):
    def __init__(self, workspace: Workspace):
        self.ws = workspace
        self.ws.runs_dir.mkdir(parents=True, exist_ok=True)
        self.tracking = Tracking(workspace.tracking_uri)
        self.lock = threading.RLock()  # guards records and the tracking client
        self.changed = threading.Condition(self.lock)
        self.records: dict[str, RunRecord] = {}
        self.active: set[str] = set()  # runs being prepared, executed or finalised here
        self.cancel_flags: set[str] = set()
        self.last_activity = time.monotonic()
        self.started = time.time()
        self.stopping = threading.Event()
        self.server: socketserver.ThreadingUnixStreamServer | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def serve(self) -> None:
        sock = self.ws.agent_socket
        if sock.exists():
            sock.unlink()
        handler = _make_handler(self)
        self.server = socketserver.ThreadingUnixStreamServer(str(sock), handler)
        self.server.daemon_threads = True
        os.chmod(sock, 0o600)
        self._recover()
        for target in (self._schedule_loop, self._ingest_loop, self._idle_loop):
            threading.Thread(target=target, daemon=True).start()
        log.info("agent %s serving %s on %s", os.getpid(), self.ws.root, sock)
        try:
            self.server.serve_forever(poll_interval=0.2)
        finally:
            self.server.server_close()
            try:
                if sock.exists():
                    sock.unlink()
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            threading.Thread(target=self.server.shutdown, daemon=True).start()

    def _recover(self) -> None:
        """Load every run; re-queue, re-adopt or finalise those left unfinished."""
        for status_file in sorted(self.ws.runs_dir.glob(f"*/{STATUS_FILE}")):
            try:
                record = RunRecord.load(status_file.parent)
            except (OSError, ValueError, TypeError):
                log.exception("unreadable run record %s", status_file)
                continue
            self.records[record.run_id] = record
            if record.is_terminal or record.run_type != "scriptrun.scriptrun":
                continue
            if record.status == RunStatus.QUEUED.value:
                continue  # the scheduler picks it up
            if (record.path / RAY_MARKER).exists():
                self.active.add(record.run_id)
                threading.Thread(target=self._watch_ray, args=(record,), daemon=True).start()
            elif (record.path / "launch.json").exists():
                if not (record.path / "shim.lock").exists():  # died between writing launch.json and the shim
                    local.start_shim(record.path)
                self.active.add(record.run_id)
                threading.Thread(target=self._watch_adopted, args=(record,), daemon=True).start()
            else:  # died while preparing: prepare again
                shutil.rmtree(record.path / "wd", ignore_errors=True)
                record.status = RunStatus.QUEUED.value
                record.save()

    def _idle_loop(self) -> None:
        timeout = self.ws.settings.agent_idle_timeout_seconds
        while not self.stopping.wait(1.0):
            with self.lock:
                busy = any(not r.is_terminal and r.run_type == "scriptrun.scriptrun" for r in self.records.values())
                if busy or self.active:
                    self.last_activity = time.monotonic()
                elif time.monotonic() - self.last_activity > timeout:
                    log.info("idle for %.0f s: stopping", timeout)
                    self.stop()

    # -- scheduling and execution ------------------------------------------------------------

    def _schedule_loop(self) -> None:
        while not self.stopping.is_set():
            with self.changed:
                queued = sorted((r for r in self.records.values()
                                 if r.status == RunStatus.QUEUED.value and r.run_id not in self.active),
                                key=lambda r: r.created)
                running = sum(1 for rid in self.active if not self.records[rid].is_terminal)
                for record in queued[: max(0, self.ws.settings.max_concurrent_runs - running)]:
                    self.active.add(record.run_id)
                    threading.Thread(target=self._execute, args=(record,), daemon=True).start()
                self.changed.wait(0.5)

    def _execute(self, record: RunRecord) -> None:
        try:
            spec = JobSpec.model_validate(record.spec)
            target = target_definitions(self.ws).get(spec.compute_target) if spec.compute_target != "local" else None
            on_ray = bool(target and target.get("type") == RAY)
            self._set_status(record, RunStatus.PREPARING)
            workdir = record.path / "wd"
            local.make_workdir(self.ws, record.snapshot_id or "", workdir)
            with self.lock:
                contract = local.contract_env(
                    run_id=record.run_id, experiment=record.experiment, workspace_root=str(self.ws.root),
                    run_dir=str(record.path), tracking_uri=self.ws.tracking_uri,
                    mlflow_run_id=record.mlflow_run_id,
                    mlflow_experiment_id=self.tracking.experiment_id(record.experiment))
                if record.run_id in self.cancel_flags:
                    self._finish(record, RunStatus.CANCELED, None)
                    return
            spec, python, extra_env = self._prepare(record, spec, workdir)
            env = {**local.job_env(spec, {} if on_ray else record.client_env, contract), **extra_env}
            if on_ray:
                self._run_on_ray(record, spec, workdir, env, python, str(target["address"]),
                                 target.get("shared_filesystem"))
                return
            local.write_launch(record.path, workdir, spec, env, python)
            proc = local.start_shim(record.path)
            self._set_status(record, RunStatus.RUNNING)
            proc.wait()
            self._finalize(record)
        except Exception as exc:  # noqa: BLE001 - any failure must end the run, not hang it
            self._fail(record, exc)

    def _fail(self, record: RunRecord, exc: Exception) -> None:
        """End a run that the agent could not carry through. A ScriptrunError (an environment
        that fails to build…) is the user's to fix and keeps its own code; anything else is ours."""
        if isinstance(exc, ScriptrunError):
            log.info("run %s failed: %s", record.run_id, exc)
            error = {"code": type(exc).__name__, "message": str(exc)}
        else:
            log.error("run %s failed in the agent", record.run_id, exc_info=exc)
            error = {"code": "SystemError", "message": f"{type(exc).__name__}: {exc}"}
        self._finish(record, RunStatus.FAILED, error)

    def _prepare(self, record: RunRecord, spec: JobSpec, workdir: Path) -> tuple[JobSpec, str, dict[str, str]]:
        """What the job needs before it starts (while the run shows ``Preparing``): its
        environment built or fetched from the cache (build log in ``<run dir>/logs/``), its
        inputs materialised and output folders made. Returns the spec with the data
        placeholders filled in, the interpreter to run ``python`` with, and extra variables."""
        from scriptrun.data.materialize import prepare_data
        from scriptrun.environment.builder import ensure_environment
        from scriptrun.spec.checks import needs_build

        python = local.interpreter(spec, record.client_python)
        if needs_build(spec.environment):
            assert isinstance(spec.environment, EnvironmentSpec)
            built = ensure_environment(self.ws, spec.environment,
                                       log_file=record.path / "logs" / "environment_build.txt",
                                       client_python=record.client_python or None)
            python = built.python
            record.environment = {"hash": built.hash, "cached": built.cached, "seconds": round(built.seconds, 3),
                                  "path": str(built.path)}
            record.save()
            with self.lock:
                self.tracking.set_tags(record.mlflow_run_id, {"scriptrun.environment_hash": built.hash,
                                                              "scriptrun.environment_cached": str(built.cached)})
        if not (spec.inputs or spec.outputs or spec.resume_from):
            return spec, python, {}
        data = prepare_data(self.ws, spec, run_dir=record.path, workdir=workdir)
        record.input_datasets = data.inputs
        record.save()
        with self.lock:
            self.tracking.set_tags(record.mlflow_run_id, lineage_tags(data.inputs, "input"))
        return data.spec, python, data.env

    def _collect_outputs(self, record: RunRecord, workdir: Path, outcome: dict[str, Any]) -> None:
        """Upload what the run produced: ``./outputs``, ``./logs``, the captured logs, the spec;
        and, only when the run completed, its output datasets (registered when asked to)."""
        with self.lock:
            self.tracking.log_artifacts(record.mlflow_run_id, workdir / "outputs", "outputs")
            self.tracking.log_artifacts(record.mlflow_run_id, workdir / "logs", "logs")
            self.tracking.log_artifacts(record.mlflow_run_id, record.path / "logs", "user_logs")
            spec_file = record.path / "job.json"
            spec_file.write_text(json.dumps(record.spec, indent=2))
            self.tracking.log_artifact(record.mlflow_run_id, spec_file, "scriptrun")
        spec = JobSpec.model_validate(record.spec) if record.spec else None
        if outcome.get("reason") == "completed" and spec is not None and spec.outputs:
            from scriptrun.data.materialize import deliver_outputs

            record.output_datasets = deliver_outputs(self.ws, spec, run_id=record.run_id, run_dir=record.path)
            record.save()
        if record.input_datasets or record.output_datasets:
            lineage = record.path / "lineage.json"
            lineage.write_text(json.dumps({"inputDatasets": record.input_datasets,
                                           "outputDatasets": record.output_datasets}, indent=2))
            with self.lock:
                self.tracking.set_tags(record.mlflow_run_id, lineage_tags(record.output_datasets, "output"))
                self.tracking.log_artifact(record.mlflow_run_id, lineage, "scriptrun")

    def _watch_adopted(self, record: RunRecord) -> None:
        """Wait for a shim this agent did not start (after an agent restart), then finalise."""
        try:
            if record.status != RunStatus.FINALIZING.value:
                deadline = time.monotonic() + 10
                while shim_alive(record.path) or (
                        not (record.path / "shim.json").exists() and time.monotonic() < deadline):
                    time.sleep(ADOPT_POLL)
            self._finalize(record)
        except Exception as exc:  # noqa: BLE001
            self._fail(record, exc)

    def _finalize(self, record: RunRecord) -> None:
        self._set_status(record, RunStatus.FINALIZING)
        try:
            outcome = json.loads((record.path / "exit.json").read_text())
        except (OSError, ValueError):
            outcome = {"reason": "lost", "exit_code": None, "stderr_tail": ""}
        self._ingest(record)
        workdir = record.path / "wd"
        self._collect_outputs(record, workdir, outcome)
        status, error = outcome_status(outcome, record)
        self._finish(record, status, error)
        shutil.rmtree(workdir, ignore_errors=True)

    def _finish(self, record: RunRecord, status: RunStatus, error: dict[str, Any] | None) -> None:
        self._set_status(record, status, error=error)
        with self.changed:
            self.active.discard(record.run_id)
            self.cancel_flags.discard(record.run_id)
            self.changed.notify_all()

    def _set_status(self, record: RunRecord, status: RunStatus, *, error: dict[str, Any] | None = None) -> None:
        with self.changed:
            if not record.set_status(status, error=error):
                return
            tags = {"scriptrun.status": status.value}
            if error:
                tags["scriptrun.error"] = error.get("message", "")[:4000]
            self.tracking.set_tags(record.mlflow_run_id, tags)
            if status.is_terminal():
                self.tracking.terminate(record.mlflow_run_id, status, record.end_time or time.time())
            self.changed.notify_all()

    # -- metrics ---------------------------------------------------------------------------

    def _ingest_loop(self) -> None:
        while not self.stopping.wait(INGEST_INTERVAL):
            with self.lock:
                pending = [r for r in self.records.values() if not r.is_terminal]
            for record in pending:
                try:
                    self._ingest(record)
                except Exception:  # noqa: BLE001 - keep ingesting the other runs
                    log.exception("ingesting metrics of %s failed", record.run_id)

    def _ingest(self, record: RunRecord) -> None:
        with self.lock:
            records, offset = read_records(record.path / METRICS_FILE, record.ingested_offset)
            if not records:
                return
            self.tracking.log_records(record.mlflow_run_id, records, record.metric_steps)
            for rec in records:
                self._apply_side_effects(record, rec)
            record.ingested_offset = offset
            record.save()

    def _apply_side_effects(self, record: RunRecord, rec: dict[str, Any]) -> None:
        kind = rec.get("k")
        if kind == "tag":
            record.tags[str(rec.get("n"))] = rec.get("v")
        elif kind == "prop":
            record.properties.update({str(k): str(v) for k, v in (rec.get("v") or {}).items()})
        elif kind in ("up", "img"):
            src = rec.get("src")
            if src and Path(src).exists():
                self._upload(record, str(rec.get("p") or rec.get("n")), src)

    def _upload(self, record: RunRecord, name: str, path: str) -> None:
        name = name.strip("/")
        folder, _, base = name.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp) / base
            if Path(path).is_dir():
                shutil.copytree(path, staged)
                self.tracking.log_artifacts(record.mlflow_run_id, staged, name)
            else:
                shutil.copyfile(path, staged)
                self.tracking.log_artifact(record.mlflow_run_id, staged, folder or None)


def _make_handler(agent: Agent) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline()
            if not line:
                return
            try:
                result = {"ok": True, "result": agent.handle(json.loads(line))}
            except ScriptrunError as exc:
                result = {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)}}
            except Exception as exc:  # noqa: BLE001 - report internal errors to the client
                log.exception("request failed")
                result = {"ok": False, "error": {"type": "AgentError", "message": f"{type(exc).__name__}: {exc}"}}
            try:
                self.wfile.write(json.dumps(result, default=str).encode() + b"\n")
            except BrokenPipeError:
                pass

    return Handler


def main(root: str) -> int:
    workspace = Workspace.get(root)
    lock_fd = os.open(workspace.dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another agent serves this workspace
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    agent = Agent(workspace)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    agent.serve()
    return 0
