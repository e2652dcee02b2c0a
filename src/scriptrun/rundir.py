"""A run's folder, defined once: every file name in it, the run statuses, the typed outcome
the supervisor records, and the metrics file's record kinds and reader/writer.

This module sits at the bottom of the layers (stdlib only: training scripts import it) and
every reader and writer of a run folder uses it. The shim (``compute/shim.py``) is executed
as a file with ``python -S`` and keeps its own copies of a few names; a test checks they match.

``<workspace>/.scriptrun/runs/<run id>/``::

    status.json       the agent's record of the run (the one status writer persists it)
    job.json          the spec that ran (also an MLflow artifact)
    launch.json       what the shim starts: processes, environments, deadline
    shim.json         the shim's pid and its process groups, once they started
    shim.lock         flock'ed by the live shim for its whole life
    shim.log          the shim's own stderr
    exit.json         the outcome (:class:`Outcome`), written once by the supervisor
    metrics.jsonl     the script's metrics, one JSON record per line (:class:`MetricsWriter`)
    datasets.json     the materialised inputs and outputs the script sees
    lineage.json      input/output dataset versions and fingerprints
    controller.json   a parent run's controller state and its pending actions
    ray_job.json      a Ray run: the cluster address and the job id
    logs/             one log per process (``rank_0.txt``…), the environment build log
    uploads/          files staged by ``run.upload_file``/``log_image``
    wd/               the working copy the processes run in (removed at the end)
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

STATUS_FILE = "status.json"
JOB_FILE = "job.json"
LAUNCH_FILE = "launch.json"
SHIM_FILE = "shim.json"
SHIM_LOCK = "shim.lock"
SHIM_LOG = "shim.log"
EXIT_FILE = "exit.json"
METRICS_FILE = "metrics.jsonl"
DATASETS_FILE = "datasets.json"
LINEAGE_FILE = "lineage.json"
JOB_YAML_FILE = "job.yml"  # the user's job YAML, when the run was submitted from one
ERROR_FILE = "error.txt"  # a failed run's whole error
CONTROLLER_FILE = "controller.json"
RAY_JOB_FILE = "ray_job.json"
BUILD_PID_FILE = "build.pid"  # the environment build step running for the run
MLFLOW_SYNC_FILE = "mlflow.json"  # how far the run's MLflow mirror got: created, ended, metrics offset
LOGS_DIR = "logs"
UPLOADS_DIR = "uploads"
WORKDIR = "wd"


# -- statuses -------------------------------------------------------------------------------


class RunStatus(str, Enum):
    """v1's ``RunStatus`` strings. Unknown strings are treated as running by waiters."""

    NOT_STARTED = "NotStarted"
    UNAPPROVED = "Unapproved"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    PROVISIONING = "Provisioning"
    STARTING = "Starting"
    RUNNING = "Running"
    NOT_RESPONDING = "NotResponding"
    CANCEL_REQUESTED = "CancelRequested"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    def __str__(self) -> str:
        return self.value

    def is_terminal(self) -> bool:
        return self in TERMINAL

    @classmethod
    def list(cls) -> list[str]:
        return [s.value for s in cls]


TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})


def is_terminal(status: str) -> bool:
    return status in {s.value for s in TERMINAL}


class RunKind(str, Enum):
    """What a run is: a script run (processes supervised by a shim), an interactive run
    (``start_logging``/``child_run``: the client ends it), or a parent whose children a
    controller drives (pipelines, sweeps, child batches). The values are v1's run types."""

    SCRIPT = "scriptrun.scriptrun"
    INTERACTIVE = "scriptrun.interactive"
    PIPELINE = "azureml.PipelineRun"
    SWEEP = "hyperdrive"
    BATCH = "scriptrun.batch"

    def has_processes(self) -> bool:
        return self is RunKind.SCRIPT

    def is_controlled(self) -> bool:
        return self in (RunKind.PIPELINE, RunKind.SWEEP, RunKind.BATCH)


# -- the outcome the supervisor records ---------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """How a run's processes ended (``exit.json``). ``reason``: ``completed``, ``failed``,
    ``canceled``, ``timeout``, or ``lost`` (no supervisor recorded one)."""

    reason: str
    exit_code: int | None = None
    failed_process: str | None = None
    started: float | None = None
    ended: float | None = None
    attempts: list[int] = field(default_factory=list)
    stderr_tail: str = ""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def read(cls, run_dir: Path) -> Outcome | None:
        try:
            return cls.from_json(json.loads((run_dir / EXIT_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, run_dir: Path) -> None:
        """Write ``exit.json`` atomically (a reader sees no file or the whole outcome)."""
        write_json_atomic(run_dir / EXIT_FILE, self.to_json())


def atomic_write(path: str | os.PathLike[str], text: str, *, durable: bool = True) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new content, never half.
    ``durable=False`` skips the fsync: still whole after a killed process, not after a power cut."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, a killed thread: no temporary file left behind
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# -- logs ------------------------------------------------------------------------------------

PRIMARY_LOGS = ("std_log", "rank_0", "worker_0", "node_0")


def log_order(stem: str) -> tuple[int, str, int]:
    """Sort key for log files: the primary process (rank 0) first, then by kind and number."""
    kind, _, number = stem.rpartition("_")
    return (0 if stem in PRIMARY_LOGS else 1, kind or stem, int(number) if number.isdigit() else -1)


def sorted_logs(logs_dir: Path) -> list[Path]:
    return sorted(logs_dir.glob("*.txt"), key=lambda p: log_order(p.stem)) if logs_dir.is_dir() else []


# -- the metrics file ----------------------------------------------------------------------------
# A script never waits on the tracking store: each ``run.log*``/``tag``/``upload`` call is one
# unbuffered ``O_APPEND`` write of a JSON line (microseconds; the kernel keeps it even if the
# process is SIGKILLed right after). The agent tails the file and batches it into MLflow.

METRIC = "m"          # a scalar
LIST = "l"            # a list
ROW = "r"             # a table row
TABLE = "tb"          # a table
IMAGE = "img"         # an image file
TAG = "tag"           # a tag
PROPERTIES = "prop"   # properties
UPLOAD = "up"         # an uploaded file
METRIC_KINDS = (METRIC, LIST, ROW, TABLE, IMAGE)


class MetricsWriter:
    """Appends records to a run's metrics file, one ``write`` syscall per record."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        record.setdefault("t", int(time.time() * 1000))
        line = (json.dumps(record, separators=(",", ":"), default=repr) + "\n").encode()
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_records(path: str | os.PathLike[str], offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete records from byte ``offset``; returns them and the offset after the last one."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    records = []
    for line in data[: end + 1].splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a torn line from a crashed writer
    return records, offset + end + 1


def shape_metrics(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """v1's ``get_metrics()`` shapes: a scalar logged once is a value, N times a list; rows
    and tables are column → value (one row) or column → list; lists are lists."""
    scalars: dict[str, list[Any]] = {}
    lists: dict[str, list[Any]] = {}
    tables: dict[str, dict[str, list[Any]]] = {}
    images: dict[str, str] = {}
    order: list[str] = []
    for rec in records:
        kind, name = rec.get("k"), rec.get("n")
        if kind not in METRIC_KINDS:
            continue
        if name not in order:
            order.append(name)
        if kind == METRIC:
            scalars.setdefault(name, []).append(rec.get("v"))
        elif kind == LIST:
            lists.setdefault(name, []).extend(rec.get("v") or [])
        elif kind in (ROW, TABLE):
            table = tables.setdefault(name, {})
            for col, val in (rec.get("v") or {}).items():
                table.setdefault(col, []).extend(val if kind == TABLE and isinstance(val, list) else [val])
        else:
            images[name] = rec.get("p", "")
    out: dict[str, Any] = {}
    for name in order:
        if name in scalars:
            values = scalars[name]
            out[name] = values[0] if len(values) == 1 else values
        elif name in lists:
            out[name] = lists[name]
        elif name in tables:
            out[name] = {c: (v[0] if len(v) == 1 else v) for c, v in tables[name].items()}
        else:
            out[name] = images[name]
    return out
