"""The per-workspace agent: single writer of the tracking store, run queue, metric ingester,
and host of the controllers that drive parent runs.

One agent per workspace (it holds ``.scriptrun/agent.lock``), listening on a 0600 Unix
socket (requests: :mod:`scriptrun.agent.protocol`, answers: :mod:`scriptrun.agent.handlers`).
It creates runs in MLflow, queues them under ``max_concurrent_runs`` (and a parent's own
cap), prepares each run and hands it to the compute backend of its target — never asking
which kind — follows it to its :class:`~scriptrun.rundir.Outcome`, ingests metrics files
into MLflow in batches, finalises runs (uploads ``outputs/`` and logs, records the end state),
and exits after ``agent_idle_timeout_seconds`` with nothing to do. Runs survive the agent: on
start it re-adopts every unfinished run and controller from its folder.
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
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from scriptrun import progress
from scriptrun.agent.handlers import Handlers
from scriptrun.agent.host import ControllerHost
from scriptrun.agent.protocol import Submit
from scriptrun.agent.runstate import RunRecord, lineage_tags, outcome_status
from scriptrun.agent.runview import (
    DESCRIPTION_TAG,
    MLFLOW_WORDS,
    RUN_NAME_TAG,
    USER_TAG,
    description_with_error,
    error_text,
    run_params,
    snapshot_mentions,
)
from scriptrun.agent.tracking import SyncState, Tracking
from scriptrun.compute import local
from scriptrun.compute.backend import SECRET_NAMES_VAR, ComputeBackend, Launch
from scriptrun.compute.targets import make_backend, target_definitions
from scriptrun.data.materialize import deliver_outputs, prepare_data, release_inputs
from scriptrun.environment.builder import BuildCanceled, BuildControl, ensure_environment, stop_orphaned_build
from scriptrun.errors import RunError, ScriptrunError, WorkspaceError
from scriptrun.rundir import (
    BUILD_PID_FILE,
    ERROR_FILE,
    JOB_FILE,
    JOB_YAML_FILE,
    LINEAGE_FILE,
    LOGS_DIR,
    METRICS_FILE,
    STATUS_FILE,
    UPLOADS_DIR,
    WORKDIR,
    Outcome,
    RunKind,
    RunStatus,
    read_records,
)
from scriptrun.spec import EnvironmentSpec, JobSpec
from scriptrun.spec.checks import needs_build
from scriptrun.workspace import Workspace
from scriptrun.workspace.keyvault import resolve_secrets
from scriptrun.workspace.snapshot import remove_escaping_links

log = logging.getLogger("scriptrun.agent")
INGEST_INTERVAL = 0.5
WAIT_SLICE = 0.5
STARTING_SLICE = 0.05  # while a launched run is not yet seen running: Running shows without delay


class Agent:
    def __init__(self, workspace: Workspace):
        self.ws = workspace
        self.ws.runs_dir.mkdir(parents=True, exist_ok=True)
        self.tracking = Tracking(workspace.tracking_uri)
        self.lock = threading.RLock()  # guards records and the tracking client
        self.changed = threading.Condition(self.lock)
        self.records: dict[str, RunRecord] = {}
        self.active: set[str] = set()  # runs being prepared, executed or finalised here
        self.cancel_reasons: dict[str, str] = {}  # runs asked to stop, and why
        self.fail_errors: dict[str, dict[str, Any]] = {}  # of those, the ones failed by the user (v1 fail())
        self.secrets: dict[str, dict[str, str]] = {}  # run id → secret values sent with it (memory only)
        self._mentions_mlflow: dict[str, bool] = {}  # snapshot id → its files mention MLflow
        self.reusable: dict[str, str] = {}  # reuse key → newest Completed run with it
        self.backends: dict[str, ComputeBackend] = {}
        self.host = ControllerHost(self)
        self.handlers = Handlers(self)
        self.last_activity = time.monotonic()
        self.started = time.time()
        self.stopping = threading.Event()
        self.in_flight = 0  # requests being answered
        self.flight_lock = threading.Lock()
        self.server: socketserver.ThreadingUnixStreamServer | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def serve(self) -> None:
        sock = self.ws.agent_socket
        if sock.exists():
            sock.unlink()
        self.server = socketserver.ThreadingUnixStreamServer(str(sock), _make_handler(self))
        self.server.daemon_threads = True
        os.chmod(sock, 0o600)
        self._recover()
        for target in (self._schedule_loop, self._ingest_loop, self._idle_loop, self.host.loop):
            threading.Thread(target=target, daemon=True).start()
        log.info("agent %s serving %s on %s", os.getpid(), self.ws.root, sock)
        try:
            self.server.serve_forever(poll_interval=0.2)
        finally:
            self.server.server_close()
            if not self.tracking.flush(timeout=60):  # what is left is replayed by the next agent
                log.warning("stopping with MLflow writes still queued")
            try:
                if sock.exists():
                    sock.unlink()
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            threading.Thread(target=self.server.shutdown, daemon=True).start()

    def backend(self, target: str) -> ComputeBackend:
        """The backend of a compute target (one object per target)."""
        with self.lock:
            if target not in self.backends:
                definition = None if target == "local" else target_definitions(self.ws).get(target)
                if target != "local" and definition is None:
                    raise RunError(f"compute target {target!r} is not attached to this workspace")
                self.backends[target] = make_backend(definition, self.tracking)
            return self.backends[target]

    def _recover(self) -> None:
        """Load every run; re-queue, re-adopt or finalise script runs left unfinished, and
        rebuild the controllers of unfinished parents."""
        for status_file in sorted(self.ws.runs_dir.glob(f"*/{STATUS_FILE}")):
            try:
                record = RunRecord.load(status_file.parent)
            except (OSError, ValueError, TypeError):
                log.exception("unreadable run record %s", status_file)
                continue
            self.records[record.run_id] = record
            self._index_reusable(record)
        for record in sorted(self.records.values(), key=lambda r: r.created):
            self._replay_tracking(record)
        for record in sorted(self.records.values(), key=lambda r: r.created):
            if record.is_terminal or record.status == RunStatus.QUEUED.value:
                continue  # the scheduler picks queued runs up
            if record.kind.is_controlled():
                self.host.recover(record)
            elif record.kind.has_processes():
                backend = self.backend(record.target)
                if backend.adopt(record.path):
                    self.active.add(record.run_id)
                    threading.Thread(target=self._follow, args=(record, backend), daemon=True).start()
                else:  # died while preparing: stop what it left building, prepare again
                    stop_orphaned_build(record.path / BUILD_PID_FILE)
                    shutil.rmtree(record.path / WORKDIR, ignore_errors=True)
                    self.set_status(record, RunStatus.QUEUED)

    def _replay_tracking(self, record: RunRecord) -> None:
        """Queue again what an agent that died had not yet written to MLflow (the run's
        ``mlflow.json`` says how far it got; the run folder has the rest)."""
        state = SyncState(record.path)
        if not record.mlflow_queued:  # an agent that wrote MLflow before answering: all there
            if not record.is_terminal:
                state.created, state.offset, state.steps = True, record.ingested_offset, dict(record.metric_steps)
                state.save()
                record.mlflow_queued = True
                record.save()
            return
        record.ingested_offset = state.offset  # re-apply what MLflow may not have
        if not state.created:
            self._create_in_mlflow(record, replay=True)
        if record.is_terminal and not state.ended:
            self.ingest(record)  # an ended run is not ingested again otherwise
            self._track_end(record)
        elif record.status in (RunStatus.RUNNING.value, RunStatus.FINALIZING.value):
            self.tracking.set_running(record.mlflow_run_id)

    def _idle_loop(self) -> None:
        timeout = self.ws.settings.agent_idle_timeout_seconds
        while not self.stopping.wait(1.0):
            with self.lock:
                busy = any(not r.is_terminal and r.kind is not RunKind.INTERACTIVE for r in self.records.values())
                if busy or self.active or self.in_flight or self.tracking.pending():
                    self.last_activity = time.monotonic()
                elif time.monotonic() - self.last_activity > timeout:
                    log.info("idle for %.0f s: stopping", timeout)
                    self.stop()

    # -- creating runs ------------------------------------------------------------------------

    def create_run(self, request: Submit, *, allow_reuse: bool = False) -> RunRecord:
        """Create a run (idempotent: an existing run id is returned as it is). A script run
        is queued; with ``allow_reuse`` and a Completed run of the same reuse key, it is
        created Completed, showing that run's results."""
        with self.changed:
            if request.run_id in self.records:
                return self.records[request.run_id]
            run_dir = self.ws.run_dir(request.run_id)
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            run_dir.mkdir(mode=0o700)  # it records the submitter's environment: keep it private
            original = self.records.get(self.reusable.get(request.reuse_key or "", "")) if allow_reuse else None
            tags = {str(k): "" if v is None else str(v) for k, v in request.tags.items()}
            secret_names = {*request.secrets, *((request.spec or {}).get("secret_environment_variables") or [])}
            client_env = {k: v for k, v in request.client_env.items() if k not in secret_names}
            if request.secrets:
                self.secrets[request.run_id] = dict(request.secrets)
            user = request.client_env.get("USER") or request.client_env.get("LOGNAME") or getpass.getuser()
            yaml_file = tags.get("scriptrun.yaml")
            if yaml_file and os.path.isfile(yaml_file):  # the user's own job file, kept next to job.json
                shutil.copyfile(yaml_file, run_dir / JOB_YAML_FILE)
            description = self._description(request.spec, tags, run_dir)
            run_name = tags.get(RUN_NAME_TAG) or self._short_name(request.experiment)
            record = RunRecord(run_id=request.run_id, experiment=request.experiment, run_dir=str(run_dir),
                               mlflow_run_id="", spec=request.spec, snapshot_id=request.snapshot_id,
                               parent_run_id=request.parent_run_id, target=request.target, kind=request.kind,
                               tags=dict(request.tags), properties=dict(request.properties),
                               submitted_by=user, client_env=client_env, display_name=run_name,
                               description=description,
                               client_python=request.client_python, reuse_key=request.reuse_key,
                               reuse_components=dict(request.reuse_components))
            record.phases[RunStatus.QUEUED.value] = record.created
            record.reused_from = original.run_id if original is not None else None
            record.mlflow_run_id = self._create_in_mlflow(record)
            record.mlflow_queued = True
            record.save()
            self.records[record.run_id] = record
            if original is not None:
                self._reuse(record, original)
            elif not record.kind.has_processes():
                self.set_status(record, RunStatus.RUNNING)
            self.changed.notify_all()
            return record

    def _create_in_mlflow(self, record: RunRecord, *, replay: bool = False) -> str:
        """Queue the run's creation in MLflow: name, user, description, params and tags, all
        from the record (so a restarted agent can replay it). Returns its MLflow id."""
        tags = {**{str(k): "" if v is None else str(v) for k, v in record.tags.items()},
                "scriptrun.run_id": record.run_id, "scriptrun.run_type": record.kind.value,
                USER_TAG: record.submitted_by, RUN_NAME_TAG: record.display_name}
        if record.snapshot_id:
            tags["scriptrun.snapshot_id"] = record.snapshot_id
        if record.spec and record.spec.get("script"):
            tags["mlflow.source.name"] = str(record.spec["script"])
        if record.parent_run_id:
            tags["mlflow.parentRunId"] = self.records[record.parent_run_id].mlflow_run_id
        if record.reused_from:
            tags["scriptrun.reused_from"] = record.reused_from
        if record.description:
            tags[DESCRIPTION_TAG] = record.description
        return self.tracking.create_run(
            record.path, record.experiment, record.display_name, tags, run_params(record.spec, record.target),
            mlflow_run_id=record.mlflow_run_id if replay else None,
            scheduled=lambda: record.status in (RunStatus.QUEUED.value, RunStatus.PREPARING.value))

    @staticmethod
    def _description(spec: dict[str, Any] | None, tags: dict[str, Any], run_dir: Path) -> str | None:
        """The run's description: its spec's, a ``mlflow.note.content`` tag (``run.description``),
        or the ``description:`` of the job YAML it was submitted from."""
        if (spec or {}).get("description") or tags.get(DESCRIPTION_TAG):
            return (spec or {}).get("description") or tags.get(DESCRIPTION_TAG)
        try:
            data = yaml.safe_load((run_dir / JOB_YAML_FILE).read_text())
        except (OSError, yaml.YAMLError):
            return None
        return str(data["description"]) if isinstance(data, dict) and data.get("description") else None

    def _short_name(self, experiment: str) -> str:
        """``<experiment>-<n>``: the run's name in MLflow (its id stays the id)."""
        return f"{experiment}-{sum(1 for r in self.records.values() if r.experiment == experiment) + 1}"

    def _reuse(self, record: RunRecord, original: RunRecord) -> None:
        """Complete ``record`` as a reuse of ``original``: its results are the original's."""
        record.properties["azureml.isreused"] = "true"
        record.properties["scriptrun.reused_from"] = original.run_id
        record.input_datasets = list(original.input_datasets)
        record.output_datasets = list(original.output_datasets)
        record.environment = dict(original.environment)
        record.save()
        self.set_status(record, RunStatus.COMPLETED)

    def _index_reusable(self, record: RunRecord) -> None:
        """A Completed run that did its own work is what later runs with its key may reuse."""
        if record.status == RunStatus.COMPLETED.value and record.reuse_key and not record.reused_from:
            self.reusable[record.reuse_key] = record.run_id

    def source_record(self, record: RunRecord) -> RunRecord:
        """Where a run's results live: itself, or the run a reused step shows."""
        return self.records.get(record.reused_from or "", record)

    # -- scheduling and execution ------------------------------------------------------------

    def _schedule_loop(self) -> None:
        while not self.stopping.is_set():
            with self.changed:
                queued = sorted((r for r in self.records.values()
                                 if r.status == RunStatus.QUEUED.value and r.run_id not in self.active),
                                key=lambda r: r.created)
                running = [self.records[rid] for rid in self.active if not self.records[rid].is_terminal]
                free = self.ws.settings.max_concurrent_runs - len(running)
                per_parent: dict[str | None, int] = {}
                for r in running:
                    per_parent[r.parent_run_id] = per_parent.get(r.parent_run_id, 0) + 1
                for record in queued:
                    if free <= 0:
                        break
                    cap = self.host.child_limit(record.parent_run_id)
                    if cap is not None and per_parent.get(record.parent_run_id, 0) >= cap:
                        continue
                    if self.host.deciding(record.parent_run_id):
                        continue  # its parent's controller has yet to hear how a sibling ended
                    per_parent[record.parent_run_id] = per_parent.get(record.parent_run_id, 0) + 1
                    free -= 1
                    self.active.add(record.run_id)
                    threading.Thread(target=self._execute, args=(record,), daemon=True).start()
                self.changed.wait(0.5)

    def _execute(self, record: RunRecord) -> None:
        try:
            spec = JobSpec.model_validate(record.spec)
            secrets = self._secrets(record, spec.secret_environment_variables)
            backend = self.backend(spec.compute_target)
            self.set_status(record, RunStatus.PREPARING)
            workdir = record.path / WORKDIR
            local.make_workdir(self.ws, record.snapshot_id or "", workdir)
            contract = local.contract_env(
                run_id=record.run_id, experiment=record.experiment, workspace_root=str(self.ws.root),
                run_dir=str(record.path), tracking_uri=self.ws.tracking_uri, mlflow_run_id=record.mlflow_run_id,
                mlflow_experiment_id=self.tracking.known_experiment_id(record.experiment))
            spec, python, extra_env = self._prepare(record, spec, workdir)
            if record.run_id in self.cancel_reasons:
                self.finish(record, RunStatus.CANCELED, None)
                return
            env = {**local.job_env(spec, backend.base_env(record.client_env), contract), **extra_env}
            if secrets:
                env[SECRET_NAMES_VAR] = ",".join(secrets)
            if record.target != "local" or self._may_use_mlflow(record, spec, workdir):
                self.tracking.flush(record.mlflow_run_id)  # the run must exist in MLflow before it starts
            backend.start(Launch(record.run_id, record.path, workdir, spec, env, python, record.mlflow_run_id,
                                 secrets=secrets))
            self.tracking.load_now()  # a cold agent loads MLflow while its first job runs
            self._follow(record, backend)
        except BuildCanceled:  # canceled while its environment was built: the build is stopped
            self.finish(record, RunStatus.CANCELED, None)
        except Exception as exc:  # noqa: BLE001 - any failure must end the run, not hang it
            self._fail(record, exc)

    def _may_use_mlflow(self, record: RunRecord, spec: JobSpec, workdir: Path) -> bool:
        """Whether the job may write to MLflow itself (``MLFLOW_RUN_ID``), so that its run must
        exist there first: its source files, command or environment mention ``mlflow`` (a
        library that logs to MLflow on its own is in the environment). Cached per snapshot."""
        key = record.snapshot_id or str(workdir)
        if key not in self._mentions_mlflow:
            self._mentions_mlflow[key] = snapshot_mentions(workdir, MLFLOW_WORDS)
        text = json.dumps([spec.command, spec.environment.model_dump() if isinstance(spec.environment, EnvironmentSpec)
                           else spec.environment, spec.environment_variables]).lower()
        return self._mentions_mlflow[key] or any(word.decode() in text for word in MLFLOW_WORDS)

    def _secrets(self, record: RunRecord, names: list[str]) -> dict[str, str]:
        """The values of a run's secret variables: those sent with it or with an ancestor
        (held in memory only), else the workspace's secrets file."""
        held: dict[str, str] = {}
        current: RunRecord | None = record
        while current is not None:
            held = {**self.secrets.get(current.run_id, {}), **held}
            current = self.records.get(current.parent_run_id or "")
        try:
            return resolve_secrets(names, held, self.ws)
        except WorkspaceError as exc:
            raise RunError(f"{exc.message}. Values taken from the submitting environment live only in the memory of "
                           "the agent that received the run: if it restarted before the run started, resubmit "
                           "the run or store them in the secrets file") from None

    def _follow(self, record: RunRecord, backend: ComputeBackend) -> None:
        """Follow a started run to its outcome (also one an earlier agent started), then finalise."""
        try:
            cancel_sent = False
            while True:
                starting = record.status == RunStatus.PREPARING.value
                if starting and backend.running(record.path):
                    self.set_status(record, RunStatus.RUNNING)
                    starting = False
                outcome = backend.wait(record.path, STARTING_SLICE if starting else WAIT_SLICE)
                if outcome is not None:
                    break
                if record.run_id in self.cancel_reasons and not cancel_sent:
                    backend.cancel(record.path)
                    cancel_sent = True
            if record.status == RunStatus.PREPARING.value and outcome.started is not None:
                self.set_status(record, RunStatus.RUNNING)  # it ran, and ended before we looked
            self._finalize(record, outcome)
        except Exception as exc:  # noqa: BLE001
            self._fail(record, exc)

    def cancel_run(self, record: RunRecord, reason: str = "", *, fail_with: dict[str, Any] | None = None) -> str:
        """Ask a run to stop: a queued one ends at once, a controlled parent stops its
        children, a running one has every process stopped. Returns the status now. With
        ``fail_with`` (v1's ``fail()`` on a submitted run) it ends Failed with that error."""
        with self.changed:
            if record.is_terminal:
                return record.status
            self.cancel_reasons.setdefault(record.run_id, reason)
            if fail_with is not None:
                self.fail_errors.setdefault(record.run_id, fail_with)
            if not record.kind.is_controlled() and (record.run_id not in self.active
                                                    or not record.kind.has_processes()):
                self.finish(record, RunStatus.CANCELED, None)
                return record.status
        if record.kind.is_controlled():  # outside the agent's lock: the host takes its own
            self.host.cancel(record.run_id)
            return record.status if record.is_terminal else RunStatus.CANCEL_REQUESTED.value
        backend = self.backend(record.target)
        if backend.launched(record.path):
            backend.cancel(record.path)
        return RunStatus.CANCEL_REQUESTED.value

    def _fail(self, record: RunRecord, exc: Exception) -> None:
        """End a run that the agent could not carry through. A ScriptrunError (an environment
        that fails to build…) is the user's to fix and keeps its own code; anything else is ours."""
        if isinstance(exc, ScriptrunError):
            log.info("run %s failed: %s", record.run_id, exc)
            error = {"code": type(exc).__name__, "message": str(exc)}
        else:
            log.error("run %s failed in the agent", record.run_id, exc_info=exc)
            error = {"code": "SystemError", "message": f"{type(exc).__name__}: {exc}"}
        self.finish(record, RunStatus.FAILED, error)  # what it logged so far (a build log) is uploaded with its end

    def _prepare(self, record: RunRecord, spec: JobSpec, workdir: Path) -> tuple[JobSpec, str, dict[str, str]]:
        """What the job needs before it starts (while the run shows ``Preparing``): its
        environment built or fetched from the cache (build log in ``<run dir>/logs/``), its
        inputs materialised and output folders made. Returns the spec with the data
        placeholders filled in, the interpreter to run ``python`` with, and extra variables."""
        python = local.interpreter(spec, record.client_python)
        if needs_build(spec.environment):
            assert isinstance(spec.environment, EnvironmentSpec)
            built = ensure_environment(self.ws, spec.environment,
                                       log_file=record.path / LOGS_DIR / "environment_build.txt",
                                       client_python=record.client_python or None,
                                       control=BuildControl(lambda: record.run_id in self.cancel_reasons,
                                                            record.path / BUILD_PID_FILE))
            python = built.python
            record.environment = {"hash": built.hash, "cached": built.cached, "seconds": round(built.seconds, 3),
                                  "path": str(built.path)}
            record.save()
            self.tracking.set_tags(record.mlflow_run_id, {"scriptrun.environment_hash": built.hash,
                                                          "scriptrun.environment_cached": str(built.cached)})
        if not (spec.inputs or spec.outputs or spec.resume_from):
            return spec, python, {}
        data = prepare_data(self.ws, spec, run_dir=record.path, workdir=workdir)
        record.input_datasets = data.inputs
        record.save()
        self.tracking.set_tags(record.mlflow_run_id, lineage_tags(data.inputs, "input"))
        return data.spec, python, data.env

    def _collect_outputs(self, record: RunRecord, workdir: Path, outcome: Outcome) -> None:
        """Make ready what the run produced (uploaded with its end, :meth:`_track_end`):
        ``./outputs`` without links leaving the run, the spec; and, only when the run
        completed, its output datasets (registered when asked to)."""
        dropped = remove_escaping_links(workdir / "outputs") if (workdir / "outputs").is_dir() else []
        if dropped:  # a link to a file outside the run must not upload that file
            with open(record.path / LOGS_DIR / "outputs_warnings.txt", "a") as fh:
                fh.write("".join(f"warning: {line}\n" for line in dropped))
        (record.path / JOB_FILE).write_text(json.dumps(record.spec, indent=2))
        spec = JobSpec.model_validate(record.spec) if record.spec else None
        if outcome.reason == "completed" and spec is not None and spec.outputs:
            record.output_datasets = deliver_outputs(self.ws, spec, run_id=record.run_id, run_dir=record.path)
            record.save()
        if record.input_datasets or record.output_datasets:
            lineage = record.path / LINEAGE_FILE
            lineage.write_text(json.dumps({"inputDatasets": record.input_datasets,
                                           "outputDatasets": record.output_datasets}, indent=2))
            self.tracking.set_tags(record.mlflow_run_id, lineage_tags(record.output_datasets, "output"))

    def _finalize(self, record: RunRecord, outcome: Outcome) -> None:
        self.set_status(record, RunStatus.FINALIZING)
        self.ingest(record)
        workdir = record.path / WORKDIR
        self._collect_outputs(record, workdir, outcome)
        status, error = outcome_status(outcome, record)
        self.finish(record, status, error)  # the working folder goes once uploaded (_track_end)

    def finish(self, record: RunRecord, status: RunStatus, error: dict[str, Any] | None) -> None:
        """End a run (the one way to a terminal state besides an outcome) and free its slot."""
        if record.kind.has_processes():
            release_inputs(record.path)  # the run's own copies of its inputs
        reason = self.cancel_reasons.get(record.run_id)
        failed = self.fail_errors.pop(record.run_id, None)
        if status is RunStatus.CANCELED and failed is not None:
            status, error = RunStatus.FAILED, failed
        elif status is RunStatus.CANCELED and reason and error is None:
            error = {"code": "Canceled", "message": reason}
        self.set_status(record, status, error=error)
        with self.changed:
            self.secrets.pop(record.run_id, None)
            self.active.discard(record.run_id)
            self.cancel_reasons.pop(record.run_id, None)
            self.changed.notify_all()

    def set_status(self, record: RunRecord, status: RunStatus, *, error: dict[str, Any] | None = None) -> None:
        """Change a run's status (through :meth:`RunRecord.set_status`, the one writer),
        mirror it into MLflow, wake waiters and tell the parent's controller."""
        with self.changed:
            if not record.set_status(status, error=error):
                return
            if status is RunStatus.RUNNING:
                self.tracking.set_running(record.mlflow_run_id, still=lambda: not record.is_terminal)
            elif status.is_terminal():  # intermediate statuses live in the run folder only
                self._track_end(record)
            self._index_reusable(record)
            self.changed.notify_all()
        if record.parent_run_id:
            self.host.notify(record.parent_run_id, record.run_id)

    def _track_end(self, record: RunRecord) -> None:
        """Queue a run's end in MLflow (the run folder already says it ended): its files
        (``outputs/``, logs, the spec and job YAML, lineage, ``error.txt``), ``log_row``/
        ``log_table`` tables, v1 status and properties as tags, the error in the description,
        MLflow's end state; then its working folder is removed."""
        tags = {"scriptrun.status": record.status,
                **{f"scriptrun.property.{k}": v for k, v in record.properties.items()}}
        if record.error:
            error = record.error
            tags["scriptrun.error"] = error.get("message", "")[:4000]
            description = record.tags.get(DESCRIPTION_TAG) or record.description
            tags[DESCRIPTION_TAG] = description_with_error(description, error)
            (record.path / ERROR_FILE).write_text(error_text(error))
        workdir = record.path / WORKDIR
        folders = [(workdir / "outputs", "outputs"), (workdir / "logs", "logs"), (record.path / LOGS_DIR, "user_logs")]
        files = [(record.path / ERROR_FILE, None), (record.path / JOB_FILE, "scriptrun"),
                 (record.path / JOB_YAML_FILE, "scriptrun"), (record.path / LINEAGE_FILE, "scriptrun")]
        snapshot = record.snapshot_id or ""
        remove = (lambda: local.remove_workdir(self.ws, snapshot, workdir)) if record.kind.has_processes() else None
        self.tracking.end_run(record.mlflow_run_id, record.path, RunStatus(record.status),
                              record.end_time or time.time(), tags=tags, files=files, folders=folders,
                              metrics_file=record.path / METRICS_FILE, after=remove)

    # -- metrics and files -------------------------------------------------------------------

    def _ingest_loop(self) -> None:
        while not self.stopping.wait(INGEST_INTERVAL):
            with self.lock:
                pending = [r for r in self.records.values() if not r.is_terminal]
            for record in pending:
                try:
                    self.ingest(record)
                except Exception:  # noqa: BLE001 - keep ingesting the other runs
                    log.exception("ingesting metrics of %s failed", record.run_id)

    def ingest(self, record: RunRecord) -> None:
        """Apply a run's new metrics-file records (tags, properties, uploads) and queue them
        for MLflow (in order: under the lock). ``ingested_offset`` is what was applied here;
        the run's ``mlflow.json`` says what MLflow has."""
        with self.lock:
            records, offset = read_records(record.path / METRICS_FILE, record.ingested_offset)
            if not records:
                return
            self.tracking.log_records(record.mlflow_run_id, record.path, records, offset)
            for rec in records:
                self._apply_side_effects(record, rec)
            record.ingested_offset = offset
            if any(rec.get("k") in ("tag", "prop") for rec in records):
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
                self.tracking.upload(record.mlflow_run_id, str(rec.get("p") or rec.get("n")), src)  # staged in the run folder by the script

    def upload(self, record: RunRecord, name: str, path: str) -> None:
        """``run.upload_file``/``upload_folder`` from a client: a copy is kept in the run folder
        until it is uploaded (the caller may change or delete ``path`` at once)."""
        staged = record.path / UPLOADS_DIR / uuid.uuid4().hex[:8] / (Path(name).name or "upload")
        staged.parent.mkdir(parents=True)
        if Path(path).is_dir():
            shutil.copytree(path, staged)
        else:
            shutil.copyfile(path, staged)
        self.tracking.upload(record.mlflow_run_id, name, str(staged))


def _make_handler(agent: Agent) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline()
            if not line:
                return
            with agent.flight_lock:
                agent.in_flight += 1
            try:
                self._answer(line)
            finally:
                with agent.flight_lock:
                    agent.in_flight -= 1
                    agent.last_activity = time.monotonic()

        def _answer(self, line: bytes) -> None:
            try:
                result = {"ok": True, "result": agent.handlers.handle(json.loads(line))}
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
    os.chdir(workspace.dir)  # MLflow puts a new SQL store's artifacts under ./mlruns: the workspace's
    progress.disable()  # the agent's stderr is its log: no progress lines for snapshots or uploads,
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # nor MLflow's two tqdm bars per file downloaded
    agent = Agent(workspace)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    agent.serve()
    # Exit now: MLflow may still be importing in the writer thread (nothing is queued any
    # more), and an interpreter shutdown would wait for it while holding agent.lock.
    logging.shutdown()
    os._exit(0)
