"""The agent's answers: one handler per request type of :mod:`scriptrun.agent.protocol`.

A handler returns JSON-able data (or raises a ScriptrunError, re-raised in the client).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from scriptrun.agent import models
from scriptrun.agent import protocol as p
from scriptrun.agent.runstate import RunRecord, run_details
from scriptrun.errors import RunError
from scriptrun.rundir import LOGS_DIR, METRICS_FILE, RunKind, RunStatus, read_records, shape_metrics
from scriptrun.spec.checks import needs_build
from scriptrun.spec.job import EnvironmentSpec
from scriptrun.version import __version__

if TYPE_CHECKING:
    from scriptrun.agent.server import Agent

_RUN_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,254}$")


class Handlers:
    def __init__(self, agent: Agent):
        self.agent = agent
        self.table: dict[type[p.Request], Callable[[Any], Any]] = {
            p.Ping: self.ping, p.Shutdown: self.shutdown, p.Submit: self.submit, p.SubmitParent: self.submit_parent,
            p.Status: self.status, p.Wait: self.wait, p.Waiting: self.waiting, p.Details: self.details,
            p.ListRuns: self.list_runs,
            p.Cancel: self.cancel, p.EndInteractive: self.end_interactive, p.Metrics: self.metrics,
            p.SetTags: self.set_tags, p.GetTags: self.get_tags, p.AddProperties: self.add_properties,
            p.GetProperties: self.get_properties, p.Upload: self.upload, p.FileNames: self.file_names,
            p.Download: self.download, p.FindReusable: self.find_reusable,
            p.RegisterModel: self.register_model, p.ListModels: self.list_models, p.GetModel: self.get_model,
            p.DownloadModel: self.download_model,
        }

    def handle(self, data: Any) -> Any:
        self.agent.last_activity = time.monotonic()
        try:
            request = p.parse_request(data)
        except ValidationError as exc:
            raise RunError(f"invalid request to the agent: {exc.errors()[0].get('msg')} "
                           f"(is the client the same scriptrun version as the agent, {__version__}?)") from None
        return self.table[type(request)](request)

    def _record(self, run_id: str) -> RunRecord:
        record = self.agent.records.get(run_id)
        if record is None:
            raise RunError(f"no run {run_id!r} in workspace {self.agent.ws.root}")
        return record

    # -- the agent itself -------------------------------------------------------------------

    def ping(self, request: p.Ping) -> dict[str, Any]:
        agent = self.agent
        with agent.lock:
            return {
                "pid": os.getpid(), "version": __version__, "workspace": str(agent.ws.root),
                "uptime_seconds": round(time.time() - agent.started, 1),
                "active_runs": sorted(agent.active),
                "queued_runs": sorted(r.run_id for r in agent.records.values() if r.status == RunStatus.QUEUED.value),
                "controllers": sorted(agent.host.controllers),
                "idle_timeout_seconds": agent.ws.settings.agent_idle_timeout_seconds,
                "tracking_uri": agent.ws.tracking_uri,
            }

    def shutdown(self, request: p.Shutdown) -> dict[str, Any]:
        self.agent.stop()
        return {"stopping": True, "active_runs": sorted(self.agent.active)}

    # -- creating runs ----------------------------------------------------------------------

    def _check_new(self, run_id: str, parent_run_id: str | None) -> None:
        if not _RUN_ID.match(run_id):
            raise RunError(f"invalid run id {run_id!r}: use letters, digits, '_', '-' or '.'")
        if parent_run_id is not None:
            self._record(parent_run_id)

    def submit(self, request: p.Submit) -> dict[str, Any]:
        if request.kind.is_controlled():
            raise RunError(f"a {request.kind.value} run needs a controller: submit it with submit_parent")
        self._check_new(request.run_id, request.parent_run_id)
        record = self.agent.create_run(request)
        return {"run_id": record.run_id, "status": record.status}

    def submit_parent(self, request: p.SubmitParent) -> dict[str, Any]:
        if not request.kind.is_controlled():
            raise RunError(f"a {request.kind.value} run has no controller: submit it with submit")
        self._check_new(request.run_id, request.parent_run_id)
        if request.run_id in self.agent.records:
            return {"run_id": request.run_id, "status": self.agent.records[request.run_id].status}
        controller = self.agent.host.load(request.controller, request.state)
        record = self.agent.create_run(p.Submit(
            run_id=request.run_id, experiment=request.experiment, tags=request.tags, properties=request.properties,
            parent_run_id=request.parent_run_id, client_env=request.client_env, client_python=request.client_python,
            secrets=request.secrets, kind=request.kind))
        self.agent.host.start(record, request.controller, controller)
        return {"run_id": record.run_id, "status": record.status}

    # -- status -----------------------------------------------------------------------------

    def status(self, request: p.Status) -> str:
        with self.agent.lock:
            return self._record(request.run_id).status

    def wait(self, request: p.Wait) -> str:
        deadline = time.monotonic() + min(float(request.timeout), 30.0)
        with self.agent.changed:
            record = self._record(request.run_id)
            while not record.is_terminal:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.agent.changed.wait(remaining)
            status = record.status
        # A run has ended for its clients once its end (files, state) is in MLflow, too:
        # until then it is Finalizing (v1: uploading what the run produced).
        if record.is_terminal and not self.agent.tracking.flush(record.mlflow_run_id,
                                                                timeout=max(0.0, deadline - time.monotonic()) + 1.0):
            return RunStatus.FINALIZING.value
        return status

    def waiting(self, request: p.Waiting) -> dict[str, Any]:
        agent = self.agent
        with agent.lock:
            record = self._record(request.run_id)
            reason, progress = None, None
            if record.status == RunStatus.QUEUED.value:
                reason = self._queue_reason(record)
            elif record.status == RunStatus.PREPARING.value:
                reason = f"Preparing: {_preparation(record)}"
            elif record.status == RunStatus.FINALIZING.value:
                reason = "Finalizing: collecting outputs"
            elif record.is_terminal and agent.tracking.is_pending(record.mlflow_run_id):
                progress = agent.tracking.uploading.get(record.mlflow_run_id)
                if progress is not None:
                    reason = "Finalizing: uploading outputs and logs to MLflow"
                elif not agent.tracking.ready:
                    reason = "Finalizing: opening the MLflow store (its first use creates it)"
                else:
                    reason = "Finalizing: writing the run to MLflow"
            return {"status": record.status, "reason": reason, "progress": progress}

    def _queue_reason(self, record: RunRecord) -> str:
        agent = self.agent
        queued = [r for r in agent.records.values() if r.status == RunStatus.QUEUED.value
                  and r.run_id not in agent.active]
        ahead = sum(1 for r in queued if r.created < record.created)
        running = sum(1 for rid in agent.active if not agent.records[rid].is_terminal)
        limit = agent.ws.settings.max_concurrent_runs
        slots = f"{running} running, max_concurrent_runs={limit}"
        if ahead:
            return f"Queued: {ahead} run{'s' if ahead != 1 else ''} ahead ({slots})"
        cap = agent.host.child_limit(record.parent_run_id)
        if cap is not None:
            siblings = sum(1 for rid in agent.active if agent.records[rid].parent_run_id == record.parent_run_id
                           and not agent.records[rid].is_terminal)
            if siblings >= cap:
                return f"Queued: its parent {record.parent_run_id} runs {siblings} children at once (its limit)"
        if running >= limit:
            return f"Queued: waiting for a free slot ({slots})"
        return "Queued: starting"

    def details(self, request: p.Details) -> dict[str, Any]:
        with self.agent.lock:
            return run_details(self._record(request.run_id), self.agent.ws.tracking_uri)

    def list_runs(self, request: p.ListRuns) -> list[dict[str, Any]]:
        with self.agent.lock:
            records = sorted(self.agent.records.values(), key=lambda r: r.created, reverse=True)
            chosen = [r for r in records
                      if (request.experiment is None or r.experiment == request.experiment)
                      and (request.status is None or r.status == request.status)
                      and (request.parent_run_id is None or r.parent_run_id == request.parent_run_id)
                      and (request.include_children or request.parent_run_id is not None or r.parent_run_id is None)]
            limit = request.limit
            return [run_details(r, self.agent.ws.tracking_uri) for r in (chosen[:limit] if limit else chosen)]

    def cancel(self, request: p.Cancel) -> str:
        return self.agent.cancel_run(self._record(request.run_id), "canceled by the user")

    def end_interactive(self, request: p.EndInteractive) -> str:
        record = self._record(request.run_id)
        if record.kind is not RunKind.INTERACTIVE:
            if request.status is RunStatus.FAILED:  # v1: fail() on a submitted run stops it, Failed
                return self.agent.cancel_run(record, "failed by the user", fail_with=request.error)
            raise RunError(f"run {request.run_id} is a {record.kind.value} run: it ends by itself; "
                           "use run.cancel() to stop it")
        self.agent.ingest(record)
        if request.outputs_dir:
            self.agent.tracking.log_artifacts(record.mlflow_run_id, request.outputs_dir, "outputs")
        self.agent.finish(record, request.status, request.error)
        return record.status

    # -- metrics, tags, properties -----------------------------------------------------------

    def metrics(self, request: p.Metrics) -> dict[str, Any]:
        record = self.agent.source_record(self._record(request.run_id))
        if not record.is_terminal:
            self.agent.ingest(record)
        records, _ = read_records(record.path / METRICS_FILE)
        shaped = shape_metrics(records)
        with self.agent.lock:
            for name, values in self.agent.tracking.metric_history(record.mlflow_run_id).items():
                if name not in shaped:  # logged with plain mlflow.log_metric
                    shaped[name] = values[0] if len(values) == 1 else values
        return shaped

    def set_tags(self, request: p.SetTags) -> dict[str, Any]:
        with self.agent.lock:
            record = self._record(request.run_id)
            record.tags.update(request.tags)
            record.save()
            self.agent.tracking.set_tags(record.mlflow_run_id, dict(request.tags))
            return record.tags

    def get_tags(self, request: p.GetTags) -> dict[str, Any]:
        record = self._record(request.run_id)
        self.agent.ingest(record)
        return dict(record.tags)

    def add_properties(self, request: p.AddProperties) -> dict[str, str]:
        with self.agent.lock:
            record = self._record(request.run_id)
            properties = request.properties
            clash = {k for k, v in properties.items() if k in record.properties and record.properties[k] != str(v)}
            if clash:
                raise RunError(f"properties are add-only: {', '.join(sorted(clash))} already set on run "
                               f"{request.run_id}")
            record.properties.update({k: str(v) for k, v in properties.items()})
            record.save()
            return dict(record.properties)

    def get_properties(self, request: p.GetProperties) -> dict[str, str]:
        record = self._record(request.run_id)
        self.agent.ingest(record)
        return dict(record.properties)

    # -- files ------------------------------------------------------------------------------

    def upload(self, request: p.Upload) -> None:
        with self.agent.lock:
            if not Path(request.path).exists():
                raise RunError(f"cannot upload {request.path}: no such file or folder")
            self.agent.upload(self._record(request.run_id), request.name, request.path)

    def file_names(self, request: p.FileNames) -> list[str]:
        record = self.agent.source_record(self._record(request.run_id))
        self.agent.ingest(record)
        with self.agent.lock:
            return self.agent.tracking.list_artifacts(record.mlflow_run_id)

    def download(self, request: p.Download) -> list[str]:
        for name in request.files:
            if name.startswith("/") or ".." in Path(name).parts:
                raise RunError(f"{name!r} is not a file of run {request.run_id}: names are relative to the "
                               "run and cannot leave it")
        with self.agent.lock:  # not held while files are copied: other requests go on meanwhile
            record = self.agent.source_record(self._record(request.run_id))
        try:
            self.agent.tracking.download(record.mlflow_run_id, request.files)
        except FileNotFoundError as exc:
            names = self.agent.tracking.list_artifacts(record.mlflow_run_id)
            raise RunError(f"run {request.run_id} has no file {exc.args[0]!r}; "
                           f"its files: {', '.join(names) or 'none'}") from None
        return list(request.files.values())

    def find_reusable(self, request: p.FindReusable) -> str | None:
        with self.agent.lock:
            return self.agent.reusable.get(request.key)

    # -- the model registry -------------------------------------------------------------------

    def register_model(self, request: p.RegisterModel) -> dict[str, Any]:
        if request.run_id is not None:
            request = request.model_copy(update={"run_id": self._record(request.run_id).mlflow_run_id})
        with self.agent.lock:
            return models.register_model(self.agent.tracking.client, request, artifact_root=self.agent.ws.artifact_root)

    def list_models(self, request: p.ListModels) -> list[dict[str, Any]]:
        if request.run_id is not None and request.run_id in self.agent.records:
            request = request.model_copy(update={"run_id": self.agent.records[request.run_id].mlflow_run_id})
        with self.agent.lock:
            return models.list_models(self.agent.tracking.client, request)

    def get_model(self, request: p.GetModel) -> dict[str, Any]:
        with self.agent.lock:
            return models.get_model(self.agent.tracking.client, request)

    def download_model(self, request: p.DownloadModel) -> str:
        with self.agent.lock:
            return models.download_model(self.agent.tracking.client, request)


def _preparation(record: RunRecord) -> str:
    """What a ``Preparing`` run is doing, from what its preparation has recorded so far."""
    spec = record.spec or {}
    env = spec.get("environment")
    if isinstance(env, dict) and not record.environment and needs_build(EnvironmentSpec.model_validate(env)):
        name = f" {env['name']}" if env.get("name") else ""
        return (f"building environment{name} … (cached after the first build; "
                f"log: {record.path / LOGS_DIR / 'environment_build.txt'})")
    data = [*spec.get("inputs", {}), *spec.get("outputs", {})]
    if data and not record.input_datasets:
        return f"making inputs and outputs available ({', '.join(data)})"
    return "setting up the working directory"
