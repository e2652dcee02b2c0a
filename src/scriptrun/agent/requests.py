"""The agent's answers to its clients: one ``op_<name>`` method per request.

Each request is one JSON object ``{"op": name, ...params}`` on the agent's socket; the
answer is the method's return value (or its ScriptrunError, re-raised in the client).
"""

from __future__ import annotations

import getpass
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scriptrun import __version__
from scriptrun.agent.runstate import RunRecord, read_json, run_details, shim_alive
from scriptrun.errors import RunError
from scriptrun.rundir import METRICS_FILE, RunStatus, read_records, shape_metrics

_RUN_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,254}$")


class AgentRequests:
    """Mixed into :class:`~scriptrun.agent.server.Agent`."""

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
            if not _RUN_ID.match(run_id):
                raise RunError(f"invalid run id {run_id!r}: use letters, digits, '_', '-' or '.'")
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            run_dir.mkdir(mode=0o700)  # it records the submitter's environment: keep it private
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
            return run_details(self._record(run_id), self.ws.tracking_uri)

    def op_list(self, experiment: str | None = None, status: str | None = None, limit: int | None = None,
                parent_run_id: str | None = None, include_children: bool = True) -> list[dict[str, Any]]:
        with self.lock:
            records = sorted(self.records.values(), key=lambda r: r.created, reverse=True)
            chosen = [r for r in records
                      if (experiment is None or r.experiment == experiment)
                      and (status is None or r.status == status)
                      and (parent_run_id is None or r.parent_run_id == parent_run_id)
                      and (include_children or parent_run_id is not None or r.parent_run_id is None)]
            return [run_details(r, self.ws.tracking_uri) for r in (chosen[:limit] if limit else chosen)]

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
            shim = read_json(record.path / "shim.json")
        if shim and shim_alive(record.path):
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
