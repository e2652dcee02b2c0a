"""A run's record in the agent, persisted as ``<run dir>/status.json``.

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

from scriptrun.runs.status import RunStatus
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
