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
import getpass
import json
import logging
import os
import shutil
import signal
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scriptrun import __version__
from scriptrun.agent.runstate import STATUS_FILE, RunRecord
from scriptrun.agent.tracking import Tracking
from scriptrun.compute import local
from scriptrun.compute.launch import log_order
from scriptrun.compute.ray_backend import RayJobs, result_from_logs
from scriptrun.compute.targets import RAY, target_definitions
from scriptrun.errors import RunError, ScriptrunError
from scriptrun.runs.metrics import METRICS_FILE, read_records, shape_metrics
from scriptrun.runs.status import RunStatus
from scriptrun.spec import EnvironmentSpec, JobSpec
from scriptrun.workspace import Workspace

log = logging.getLogger("scriptrun.agent")
INGEST_INTERVAL = 0.5
RAY_POLL = 0.25
RAY_MARKER = "ray_job.json"
RAY_TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
ADOPT_POLL = 0.1


class Agent:
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
        except ScriptrunError as exc:  # e.g. an environment that fails to build: the user's to fix
            log.info("run %s failed while preparing: %s", record.run_id, exc)
            self._finish(record, RunStatus.FAILED, {"code": type(exc).__name__, "message": str(exc)})
        except Exception as exc:  # noqa: BLE001 - any failure must end the run, not hang it
            log.exception("run %s failed in the agent", record.run_id)
            self._finish(record, RunStatus.FAILED, {"code": "SystemError", "message": f"{type(exc).__name__}: {exc}"})

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
            self.tracking.set_tags(record.mlflow_run_id, _lineage_tags(data.inputs, "input"))
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
                self.tracking.set_tags(record.mlflow_run_id, _lineage_tags(record.output_datasets, "output"))
                self.tracking.log_artifact(record.mlflow_run_id, lineage, "scriptrun")

    def _run_on_ray(self, record: RunRecord, spec: JobSpec, workdir: Path, env: dict[str, str], python: str,
                    address: str, shared_filesystem: bool | None) -> None:
        """Submit the run as a Ray job (its driver plays the shim's part), then watch it."""
        jobs = RayJobs(address)
        job = {"spec": spec.model_dump(mode="json"), "env": env, "python": python, "run_dir": str(record.path),
               "workdir": str(workdir), "shared_filesystem": shared_filesystem}
        jobs.submit(record.run_id, workdir, job, python, env_vars={"PYTHONUNBUFFERED": "1"}, nodes=spec.node_count)
        (record.path / RAY_MARKER).write_text(json.dumps({"address": address, "job_id": record.run_id}))
        self._watch_ray(record, jobs)

    def _watch_ray(self, record: RunRecord, jobs: RayJobs | None = None) -> None:
        """Follow a Ray job to its end (also after an agent restart), then finalise the run."""
        try:
            if jobs is None:
                jobs = RayJobs(json.loads((record.path / RAY_MARKER).read_text())["address"])
            stop_sent = False
            while True:
                status = jobs.status(record.run_id)
                if status == "RUNNING":
                    self._set_status(record, RunStatus.RUNNING)
                if status in RAY_TERMINAL:
                    break
                if record.run_id in self.cancel_flags and not stop_sent:
                    jobs.stop(record.run_id)
                    stop_sent = True
                time.sleep(RAY_POLL)
            driver_log = jobs.logs(record.run_id)
            logs = record.path / "logs"
            logs.mkdir(exist_ok=True)
            (logs / "driver.txt").write_text(driver_log)
            if not (record.path / "exit.json").exists():  # the cluster does not share this folder
                outcome = result_from_logs(driver_log) or _ray_outcome(status, stop_sent, jobs.info(record.run_id))
                self._fetch_published(record)
                (record.path / "exit.json").write_text(json.dumps(outcome))
            self._finalize(record)
        except ScriptrunError as exc:
            self._finish(record, RunStatus.FAILED, {"code": type(exc).__name__, "message": str(exc)})
        except Exception as exc:  # noqa: BLE001
            log.exception("watching Ray run %s failed", record.run_id)
            self._finish(record, RunStatus.FAILED, {"code": "SystemError", "message": f"{type(exc).__name__}: {exc}"})

    def _fetch_published(self, record: RunRecord) -> None:
        """Bring back what a driver without access to this folder published to the tracking
        store: the metrics file (ingested as usual) and the process logs."""
        with self.lock, tempfile.TemporaryDirectory() as tmp:
            for name in ("scriptrun/metrics.jsonl", "user_logs"):
                try:
                    local_path = Path(self.tracking.download(record.mlflow_run_id, name, tmp))
                except Exception:  # noqa: BLE001 - nothing was published (the driver died early)
                    continue
                if local_path.is_dir():
                    for log_file in local_path.iterdir():
                        shutil.move(str(log_file), record.path / "logs" / log_file.name)
                else:
                    shutil.move(str(local_path), record.path / METRICS_FILE)

    def _watch_adopted(self, record: RunRecord) -> None:
        """Wait for a shim this agent did not start (after an agent restart), then finalise."""
        try:
            if record.status != RunStatus.FINALIZING.value:
                deadline = time.monotonic() + 10
                while _shim_alive(record.path) or (
                        not (record.path / "shim.json").exists() and time.monotonic() < deadline):
                    time.sleep(ADOPT_POLL)
            self._finalize(record)
        except Exception as exc:  # noqa: BLE001
            log.exception("adopting run %s failed", record.run_id)
            self._finish(record, RunStatus.FAILED, {"code": "SystemError", "message": f"{type(exc).__name__}: {exc}"})

    def _finalize(self, record: RunRecord) -> None:
        self._set_status(record, RunStatus.FINALIZING)
        try:
            outcome = json.loads((record.path / "exit.json").read_text())
        except (OSError, ValueError):
            outcome = {"reason": "lost", "exit_code": None, "stderr_tail": ""}
        self._ingest(record)
        workdir = record.path / "wd"
        self._collect_outputs(record, workdir, outcome)
        status, error = _outcome_status(outcome, record)
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

    # -- requests --------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> Any:
        self.last_activity = time.monotonic()
        op = request.pop("op", None)
        method: Callable[..., Any] | None = getattr(self, f"op_{op}", None)
        if method is None:
            raise RunError(f"unknown agent operation {op!r}")
        return method(**request)

    def _record(self, run_id: str) -> RunRecord:
        record = self.records.get(run_id)
        if record is None:
            raise RunError(f"no run {run_id!r} in workspace {self.ws.root}")
        return record

    def op_ping(self) -> dict[str, Any]:
        with self.lock:
            return {
                "pid": os.getpid(), "version": __version__, "workspace": str(self.ws.root),
                "uptime_seconds": round(time.time() - self.started, 1),
                "active_runs": sorted(self.active),
                "queued_runs": sorted(r.run_id for r in self.records.values() if r.status == "Queued"),
                "idle_timeout_seconds": self.ws.settings.agent_idle_timeout_seconds,
                "tracking_uri": self.ws.tracking_uri,
            }

    def op_shutdown(self) -> dict[str, Any]:
        self.stop()
        return {"stopping": True, "active_runs": sorted(self.active)}

    def op_submit(self, run_id: str, experiment: str, spec: dict[str, Any] | None, snapshot_id: str | None,
                  tags: dict[str, str] | None = None, parent_run_id: str | None = None,
                  client_env: dict[str, str] | None = None, client_python: str = "",
                  run_type: str = "scriptrun.scriptrun", target: str = "local") -> dict[str, Any]:
        with self.changed:
            if run_id in self.records:
                return {"run_id": run_id, "status": self.records[run_id].status}
            run_dir = self.ws.run_dir(run_id)
            run_dir.mkdir(parents=True, exist_ok=False)
            mlflow_tags = {str(k): "" if v is None else str(v) for k, v in (tags or {}).items()}
            mlflow_tags.update({"scriptrun.run_id": run_id, "scriptrun.run_type": run_type})
            if snapshot_id:
                mlflow_tags["scriptrun.snapshot_id"] = snapshot_id
            if spec and spec.get("script"):
                mlflow_tags["mlflow.source.name"] = str(spec["script"])
            if parent_run_id:
                mlflow_tags["mlflow.parentRunId"] = self._record(parent_run_id).mlflow_run_id
            interactive = run_type != "scriptrun.scriptrun"
            mlflow_tags["scriptrun.status"] = (RunStatus.RUNNING if interactive else RunStatus.QUEUED).value
            mlflow_run_id, _ = self.tracking.create_run(experiment, run_id, mlflow_tags)
            record = RunRecord(run_id=run_id, experiment=experiment, run_dir=str(run_dir),
                               mlflow_run_id=mlflow_run_id, spec=spec, snapshot_id=snapshot_id,
                               parent_run_id=parent_run_id, target=target, run_type=run_type,
                               tags=dict(tags or {}), submitted_by=getpass.getuser(),
                               client_env=client_env or {}, client_python=client_python)
            record.phases[RunStatus.QUEUED.value] = record.created
            if interactive:
                record.status = RunStatus.RUNNING.value
                record.start_time = record.created
            record.save()
            self.records[run_id] = record
            self.changed.notify_all()
            return {"run_id": run_id, "status": record.status}

    def op_status(self, run_id: str) -> str:
        with self.lock:
            return self._record(run_id).status

    def op_wait(self, run_id: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + min(float(timeout), 30.0)
        with self.changed:
            record = self._record(run_id)
            while not record.is_terminal:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(remaining)
            return record.status

    def op_details(self, run_id: str) -> dict[str, Any]:
        with self.lock:
            return _details(self._record(run_id), self.ws.tracking_uri)

    def op_list(self, experiment: str | None = None, status: str | None = None, limit: int | None = None,
                parent_run_id: str | None = None, include_children: bool = True) -> list[dict[str, Any]]:
        with self.lock:
            records = sorted(self.records.values(), key=lambda r: r.created, reverse=True)
            out = [_details(r, self.ws.tracking_uri) for r in records
                   if (experiment is None or r.experiment == experiment)
                   and (status is None or r.status == status)
                   and (parent_run_id is None or r.parent_run_id == parent_run_id)
                   and (include_children or parent_run_id is not None or r.parent_run_id is None)]
            return out[:limit] if limit else out

    def op_cancel(self, run_id: str) -> str:
        with self.changed:
            record = self._record(run_id)
            if record.is_terminal:
                return record.status
            if record.status == RunStatus.QUEUED.value and run_id not in self.active:
                self._set_status(record, RunStatus.CANCELED)
                return record.status
            if record.run_type != "scriptrun.scriptrun":
                self._set_status(record, RunStatus.CANCELED)
                return record.status
            self.cancel_flags.add(run_id)
            shim = _read_json(record.path / "shim.json")
        if shim and _shim_alive(record.path):
            try:
                os.kill(int(shim["pid"]), signal.SIGTERM)
            except ProcessLookupError:
                pass
        return RunStatus.CANCEL_REQUESTED.value

    def op_end_interactive(self, run_id: str, status: str, error: dict[str, Any] | None = None,
                           outputs_dir: str | None = None) -> str:
        record = self._record(run_id)
        if record.run_type == "scriptrun.scriptrun":
            raise RunError(f"run {run_id} is a script run: it completes when its script exits; "
                           "use run.cancel() to stop it")
        self._ingest(record)
        if outputs_dir:
            with self.lock:
                self.tracking.log_artifacts(record.mlflow_run_id, outputs_dir, "outputs")
        self._finish(record, RunStatus(status), error)
        return record.status

    def op_metrics(self, run_id: str) -> dict[str, Any]:
        record = self._record(run_id)
        if not record.is_terminal:
            self._ingest(record)
        records, _ = read_records(record.path / METRICS_FILE)
        shaped = shape_metrics(records)
        with self.lock:
            for name, values in self.tracking.metric_history(record.mlflow_run_id).items():
                if name not in shaped:  # logged with plain mlflow.log_metric
                    shaped[name] = values[0] if len(values) == 1 else values
        return shaped

    def op_set_tags(self, run_id: str, tags: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            record = self._record(run_id)
            record.tags.update(tags)
            record.save()
            self.tracking.set_tags(record.mlflow_run_id, {k: v for k, v in tags.items()})
            return record.tags

    def op_get_tags(self, run_id: str) -> dict[str, Any]:
        record = self._record(run_id)
        self._ingest(record)
        return dict(record.tags)

    def op_add_properties(self, run_id: str, properties: dict[str, str]) -> dict[str, str]:
        with self.lock:
            record = self._record(run_id)
            clash = {k for k, v in properties.items() if k in record.properties and record.properties[k] != str(v)}
            if clash:
                raise RunError(f"properties are add-only: {', '.join(sorted(clash))} already set on run {run_id}")
            record.properties.update({k: str(v) for k, v in properties.items()})
            record.save()
            return dict(record.properties)

    def op_get_properties(self, run_id: str) -> dict[str, str]:
        record = self._record(run_id)
        self._ingest(record)
        return dict(record.properties)

    def op_upload(self, run_id: str, name: str, path: str) -> None:
        with self.lock:
            if not Path(path).exists():
                raise RunError(f"cannot upload {path}: no such file or folder")
            self._upload(self._record(run_id), name, path)

    def op_file_names(self, run_id: str) -> list[str]:
        record = self._record(run_id)
        self._ingest(record)
        with self.lock:
            return self.tracking.list_artifacts(record.mlflow_run_id)

    def op_download(self, run_id: str, name: str, destination: str) -> str:
        with self.lock:
            record = self._record(run_id)
            try:
                return self.tracking.download(record.mlflow_run_id, name, destination)
            except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing artifact
                names = self.tracking.list_artifacts(record.mlflow_run_id)
                raise RunError(f"run {run_id} has no file {name!r} ({type(exc).__name__}); "
                               f"its files: {', '.join(names) or 'none'}") from None


def _ray_outcome(status: str, stopped: bool, info: Any) -> dict[str, Any]:
    """An outcome for a Ray job whose driver never reported one (it could not start…)."""
    if stopped or status == "STOPPED":
        return {"reason": "canceled", "exit_code": None, "stderr_tail": ""}
    message = getattr(info, "message", "") or f"Ray job ended {status}"
    return {"reason": "failed", "exit_code": None, "failed_process": "ray job", "stderr_tail": message}


def _outcome_status(outcome: dict[str, Any], record: RunRecord) -> tuple[RunStatus, dict[str, Any] | None]:
    reason = outcome.get("reason")
    tail = outcome.get("stderr_tail") or ""
    if reason == "completed":
        return RunStatus.COMPLETED, None
    if reason == "canceled":
        return RunStatus.CANCELED, None
    if reason == "timeout":
        limit = (record.spec or {}).get("max_run_duration_seconds")
        return RunStatus.FAILED, {"code": "RunTimeout", "message":
                                  f"the run exceeded max_run_duration_seconds={limit} and was stopped",
                                  "stderr_tail": tail}
    if reason == "lost":
        return RunStatus.FAILED, {"code": "SystemError", "message":
                                  "the run's supervisor (shim) died without recording the exit status; "
                                  f"see {record.path / 'shim.log'}"}
    code = outcome.get("exit_code")
    last = [line for line in tail.strip().splitlines() if line.strip()]
    summary = last[-1] if last else "no output on stderr"
    message = f"process {outcome.get('failed_process') or ''} exited with code {code}: {summary}".replace("  ", " ")
    return RunStatus.FAILED, {"code": "UserError", "message": message, "exit_code": code, "stderr_tail": tail}


def _details(record: RunRecord, tracking_uri: str) -> dict[str, Any]:
    logs = record.path / "logs"
    details: dict[str, Any] = {
        "runId": record.run_id,
        "experiment": record.experiment,
        "target": record.target,
        "status": record.status,
        "type": record.run_type,
        "createdTimeUtc": _iso(record.created),
        "startTimeUtc": _iso(record.start_time),
        "properties": dict(record.properties),
        "tags": dict(record.tags),
        "inputDatasets": list(record.input_datasets),
        "outputDatasets": list(record.output_datasets),
        "runDefinition": record.spec,
        "logFiles": {f"user_logs/{p.name}": str(p) for p in sorted(logs.glob("*.txt"), key=lambda p: log_order(p.stem))}
        if logs.is_dir() else {},
        "submittedBy": record.submitted_by,
        "parentRunId": record.parent_run_id,
        "snapshotId": record.snapshot_id,
        "mlflowRunId": record.mlflow_run_id,
        "trackingUri": tracking_uri,
        "runDir": record.run_dir,
        "phaseTimesUtc": {k: _iso(v) for k, v in record.phases.items()},
        "warnings": [],
    }
    if record.end_time is not None:
        details["endTimeUtc"] = _iso(record.end_time)
    if record.error:
        details["error"] = record.error
    return details


def _lineage_tags(entries: list[dict[str, Any]], kind: str) -> dict[str, str]:
    """MLflow tags ``scriptrun.<kind>.<name>`` = ``dataset:version fingerprint=… mode=…``."""
    tags = {}
    for entry in entries:
        details = entry.get("consumptionDetails") or entry.get("outputDetails") or {}
        name = details.get("inputName") or details.get("outputName")
        dataset = entry.get("dataset") or {}
        value = dataset.get("id") or details.get("url") or ""
        if dataset.get("fingerprint"):
            value += f" fingerprint={dataset['fingerprint']}"
        tags[f"scriptrun.{kind}.{name}"] = f"{value} mode={details.get('mechanism')}".strip()
    return tags


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _shim_alive(run_dir: Path) -> bool:
    """True while a shim holds the run's ``shim.lock``."""
    lock = run_dir / "shim.lock"
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


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
