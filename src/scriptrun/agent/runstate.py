"""A run's record in the agent, persisted as ``<run dir>/status.json``, and what is read
off a run folder: the v1 details dict and the status an :class:`Outcome` maps to.

:meth:`RunRecord.set_status` is the one place that writes a run's status: it refuses to
leave a terminal state, timestamps each phase, and persists the record atomically before
the agent mirrors it into MLflow.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scriptrun.rundir import LOGS_DIR, SHIM_LOG, STATUS_FILE, Outcome, RunKind, RunStatus, sorted_logs
from scriptrun.workspace.locking import atomic_write


@dataclass
class RunRecord:
    run_id: str
    experiment: str
    run_dir: str
    mlflow_run_id: str
    spec: dict[str, Any] | None
    status: str = RunStatus.QUEUED.value
    created: float = field(default_factory=time.time)
    phases: dict[str, float] = field(default_factory=dict)
    start_time: float | None = None
    end_time: float | None = None
    error: dict[str, Any] | None = None
    snapshot_id: str | None = None
    parent_run_id: str | None = None
    target: str = "local"
    kind: RunKind = RunKind.SCRIPT
    tags: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    submitted_by: str = ""
    client_env: dict[str, str] = field(default_factory=dict)
    client_python: str = ""
    ingested_offset: int = 0
    metric_steps: dict[str, int] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)  # built env: hash, cached, seconds
    input_datasets: list[dict[str, Any]] = field(default_factory=list)  # lineage, v1 inputDatasets shape
    output_datasets: list[dict[str, Any]] = field(default_factory=list)
    reuse_key: str | None = None  # the content key of its plan (runs.submit.plan_job)
    reuse_components: dict[str, Any] = field(default_factory=dict)
    reused_from: str | None = None  # a reused step: the run whose results it shows
    mlflow_queued: bool = False  # MLflow written by the agent's queue (``mlflow.json`` says how far)
    display_name: str = ""  # its name in MLflow, unless a ``mlflow.runName`` tag renames it
    description: str | None = None  # its description in MLflow, unless a ``mlflow.note.content`` tag sets one

    @property
    def path(self) -> Path:
        return Path(self.run_dir)

    def __post_init__(self) -> None:
        self.kind = RunKind(self.kind)

    @property
    def is_terminal(self) -> bool:
        return RunStatus(self.status).is_terminal()

    def set_status(self, status: RunStatus, *, error: dict[str, Any] | None = None) -> bool:
        """Move to ``status``; False (and no change) if the run is already terminal or
        already there. This is the only code that changes a run's status."""
        if self.is_terminal or self.status == status.value:
            return False
        now = time.time()
        self.status = status.value
        self.phases[status.value] = now
        if status is RunStatus.RUNNING and self.start_time is None:
            self.start_time = now
        if status.is_terminal():
            self.end_time = now
        if error is not None:
            self.error = error
        self.save(durable=status.is_terminal())
        return True

    def save(self, *, durable: bool = True) -> None:
        """Persist the record; ``durable=False`` (intermediate statuses) skips the fsync: a
        killed agent loses nothing, and after a power cut an unfinished run is recovered anyway."""
        atomic_write(self.path / STATUS_FILE, json.dumps(asdict(self)), durable=durable)

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord:
        data = json.loads((run_dir / STATUS_FILE).read_text())
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def outcome_status(outcome: Outcome, record: RunRecord) -> tuple[RunStatus, dict[str, Any] | None]:
    """The status and v1 ``error`` a run's outcome maps to."""
    tail = outcome.stderr_tail or ""
    if outcome.reason == "completed":
        return RunStatus.COMPLETED, None
    if outcome.reason == "canceled":
        return RunStatus.CANCELED, None
    if outcome.reason == "timeout":
        limit = (record.spec or {}).get("max_run_duration_seconds")
        return RunStatus.FAILED, {"code": "RunTimeout", "message":
                                  f"the run exceeded max_run_duration_seconds={limit} and was stopped",
                                  "stderr_tail": tail}
    if outcome.reason == "lost":
        return RunStatus.FAILED, {"code": "SystemError", "message": outcome.message or
                                  "the run's supervisor (shim) died without recording the exit status; "
                                  f"see {record.path / SHIM_LOG}"}
    last = [line for line in tail.strip().splitlines() if line.strip()]
    summary = last[-1] if last else "no output on stderr"
    message = f"process {outcome.failed_process or ''} exited with code {outcome.exit_code}: {summary}"
    return RunStatus.FAILED, {"code": "UserError", "message": message.replace("  ", " "),
                              "exit_code": outcome.exit_code, "process": outcome.failed_process,
                              "stderr_tail": tail}


def run_details(record: RunRecord, tracking_uri: str) -> dict[str, Any]:
    details: dict[str, Any] = {
        "runId": record.run_id,
        "experiment": record.experiment,
        "target": record.target,
        "status": record.status,
        "type": record.kind.value,
        "createdTimeUtc": iso_time(record.created),
        "startTimeUtc": iso_time(record.start_time),
        "properties": dict(record.properties),
        "tags": dict(record.tags),
        "inputDatasets": list(record.input_datasets),
        "outputDatasets": list(record.output_datasets),
        "runDefinition": record.spec,
        "secretEnvironmentVariables": {n: "***" for n in (record.spec or {}).get("secret_environment_variables", [])},
        "logFiles": {f"user_logs/{p.name}": str(p) for p in sorted_logs(record.path / LOGS_DIR)},
        "submittedBy": record.submitted_by,
        "parentRunId": record.parent_run_id,
        "snapshotId": record.snapshot_id,
        "mlflowRunId": record.mlflow_run_id,
        "trackingUri": tracking_uri,
        "runDir": record.run_dir,
        "phaseTimesUtc": {k: iso_time(v) for k, v in record.phases.items()},
        "warnings": [],
        "reuseKey": record.reuse_key,
        "reuseComponents": dict(record.reuse_components),
        "reusedFrom": record.reused_from,
        "displayName": record.tags.get("mlflow.runName") or record.display_name or record.run_id,
        "description": record.tags.get("mlflow.note.content") or record.description,
    }
    if record.end_time is not None:
        details["endTimeUtc"] = iso_time(record.end_time)
    if record.error:
        details["error"] = record.error
    return details


def lineage_tags(entries: list[dict[str, Any]], kind: str) -> dict[str, str]:
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


def iso_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
