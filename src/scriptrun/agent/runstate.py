"""A run's record in the agent, persisted as ``<run dir>/status.json``, and what is read
off a run folder: the v1 details dict, the status an outcome (``exit.json``) maps to, and
whether a shim still holds the run.

:meth:`RunRecord.set_status` is the one place that writes a run's status: it refuses to
leave a terminal state, timestamps each phase, and persists the record atomically before
the agent mirrors it into MLflow.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scriptrun.rundir import RunStatus, log_order
from scriptrun.workspace.locking import atomic_write

STATUS_FILE = "status.json"


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
    run_type: str = "scriptrun.scriptrun"
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

    @property
    def path(self) -> Path:
        return Path(self.run_dir)

    @property
    def is_terminal(self) -> bool:
        return RunStatus(self.status).is_terminal()

    def set_status(self, status: RunStatus, *, error: dict[str, Any] | None = None) -> bool:
        """Move to ``status``; False (and no change) if the run is already terminal."""
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
        self.save()
        return True

    def save(self) -> None:
        atomic_write(self.path / STATUS_FILE, json.dumps(asdict(self)))

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord:
        data = json.loads((run_dir / STATUS_FILE).read_text())
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def ray_outcome(status: str, stopped: bool, info: Any) -> dict[str, Any]:
    """An outcome for a Ray job whose driver never reported one (it could not start…)."""
    if stopped or status == "STOPPED":
        return {"reason": "canceled", "exit_code": None, "stderr_tail": ""}
    message = getattr(info, "message", "") or f"Ray job ended {status}"
    return {"reason": "failed", "exit_code": None, "failed_process": "ray job", "stderr_tail": message}


def outcome_status(outcome: dict[str, Any], record: RunRecord) -> tuple[RunStatus, dict[str, Any] | None]:
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


def run_details(record: RunRecord, tracking_uri: str) -> dict[str, Any]:
    logs = record.path / "logs"
    details: dict[str, Any] = {
        "runId": record.run_id,
        "experiment": record.experiment,
        "target": record.target,
        "status": record.status,
        "type": record.run_type,
        "createdTimeUtc": iso_time(record.created),
        "startTimeUtc": iso_time(record.start_time),
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
        "phaseTimesUtc": {k: iso_time(v) for k, v in record.phases.items()},
        "warnings": [],
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


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def shim_alive(run_dir: Path) -> bool:
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
