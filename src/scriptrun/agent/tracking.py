"""The MLflow adapter: the only module of the agent that imports ``mlflow``, and the agent's
one MLflow writer, off the runs' critical path.

Importing MLflow and opening (or creating) its store costs the agent 1–2 s, and each write
a few milliseconds. So :class:`Tracking` loads MLflow in a background thread while the agent
already accepts and starts runs, and every write is an operation queued to one writer
thread that drains the queue in order (runs never wait on MLflow; the agent's lock is never
held around an MLflow call). The run folder stays the source of truth meanwhile: what a
queued write would have recorded can be rebuilt from it, and a restarted agent replays what
a killed one had not written (``<run dir>/mlflow.json`` records how far each run got).

With a SQL store (the default SQLite file, PostgreSQL, MySQL) the agent chooses each run's
MLflow id itself, so a run can start (with ``MLFLOW_RUN_ID`` set) before MLflow has it;
with any other store (an ``http://`` server) creating a run waits for MLflow.

Reads (metrics history, artifact lists, downloads, the model registry) first wait for the
writes queued before them, so a client never reads an older state than it wrote.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import posixpath
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from scriptrun.agent.runview import MAX_TAG_VALUE, table_columns
from scriptrun.errors import RunError
from scriptrun.rundir import MLFLOW_SYNC_FILE, RunStatus, atomic_write, read_json, read_records

log = logging.getLogger("scriptrun.agent.tracking")
MAX_BATCH = 900  # MLflow accepts 1000 metrics per log_batch
MAX_PARAMS = 100  # and 100 params, 100 tags
EXPERIMENT_KIND = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"
SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
LOAD_DELAY = 0.5  # seconds after the agent starts, or at its first launch, MLflow is loaded
_TERMINAL = {RunStatus.COMPLETED: "FINISHED", RunStatus.FAILED: "FAILED", RunStatus.CANCELED: "KILLED"}


class _ChosenIds(threading.local):
    next: str | None = None


_CHOSEN = _ChosenIds()


class _UuidSource:
    """Stands in for the ``uuid`` module inside MLflow's SQL store, so that ``create_run``
    uses the id the agent chose (set per thread in ``_CHOSEN``); otherwise plain uuid4."""

    def __getattr__(self, name: str) -> Any:
        return getattr(uuid, name)

    def uuid4(self) -> uuid.UUID:
        chosen, _CHOSEN.next = _CHOSEN.next, None
        return uuid.UUID(hex=chosen) if chosen else uuid.uuid4()


class SyncState:
    """``<run dir>/mlflow.json``, written by the writer thread only."""

    def __init__(self, run_dir: Path):
        self.file = Path(run_dir) / MLFLOW_SYNC_FILE
        data = read_json(self.file) or {}
        self.created: bool = bool(data.get("created"))
        self.ended: bool = bool(data.get("ended"))
        self.offset: int = int(data.get("offset") or 0)
        self.steps: dict[str, int] = dict(data.get("steps") or {})

    def save(self) -> None:  # no fsync: after a power cut, MLflow's own last commits may be gone too
        atomic_write(self.file, json.dumps({"created": self.created, "ended": self.ended, "offset": self.offset,
                                            "steps": self.steps}), durable=False)


class Tracking:
    def __init__(self, tracking_uri: str):
        logging.getLogger("alembic").setLevel(logging.WARNING)
        self.uri = tracking_uri
        self.chooses_ids = tracking_uri.split(":", 1)[0].split("+", 1)[0] in SQL_SCHEMES
        self._client: Any = None
        self._failure: str | None = None
        self._ready = threading.Event()
        self._go = threading.Event()  # load MLflow now (else after LOAD_DELAY)
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[str, Callable[[], None]]] = collections.deque()
        self._pending: collections.Counter[str] = collections.Counter()
        self._experiments: dict[str, str] = {}
        self.uploading: dict[str, tuple[int, int]] = {}  # run id -> (bytes uploaded, bytes) of an ending run's files
        self._artifact_uris: dict[str, str] = {}  # run id -> its artifact location, from its creation to its end
        threading.Thread(target=self._writer, name="mlflow-writer", daemon=True).start()

    # -- the writer thread ---------------------------------------------------------------------

    def _load(self) -> None:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.uri)
        client.search_experiments(max_results=1)  # opens (creates, migrates) the store, once
        if self.uri.startswith("sqlite:"):
            _write_ahead_log(client)
        if self.chooses_ids:
            from mlflow.store.tracking import sqlalchemy_store

            sqlalchemy_store.uuid = _UuidSource()
        self._client = client

    def _writer(self) -> None:
        self._go.wait(LOAD_DELAY)  # a cold agent first starts its runs: the import would slow that down
        try:
            self._load()
        except Exception as exc:  # noqa: BLE001 - say why in every later read; runs go on without MLflow
            log.exception("cannot open the tracking store %s", self.uri)
            self._failure = f"{type(exc).__name__}: {exc}"
        finally:
            self._ready.set()
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                batch = list(self._queue)
                self._queue.clear()
            for key, op in batch:
                try:
                    if self._failure is None:
                        op()
                except Exception:  # noqa: BLE001 - one refused write must not stop the others
                    log.exception("an MLflow write for run %s failed", key)
                finally:
                    with self._cond:
                        self._pending[key] -= 1
                        if self._pending[key] <= 0:
                            del self._pending[key]
                        self._cond.notify_all()

    def submit(self, key: str, op: Callable[[], None]) -> None:
        """Queue ``op`` (run by the writer thread, after every op queued before it)."""
        with self._cond:
            self._queue.append((key, op))
            self._pending[key] += 1
            self._cond.notify_all()

    def load_now(self) -> None:
        """Start loading MLflow (the agent's first run is on its way)."""
        self._go.set()

    def flush(self, key: str | None = None, timeout: float | None = None) -> bool:
        """Wait until the writes queued for ``key`` (an MLflow run id; None: all) are done."""
        self._go.set()
        with self._cond:
            return self._cond.wait_for(lambda: not (self._pending[key] if key else self._pending), timeout)

    def pending(self) -> int:
        """How many writes are queued or being written."""
        with self._cond:
            return sum(self._pending.values())

    def is_pending(self, key: str) -> bool:
        """Some write for ``key`` (an MLflow run id) is queued or being written."""
        with self._cond:
            return bool(self._pending[key])

    @property
    def client(self) -> Any:
        """The MLflow client, once loaded (after every queued write: callers read)."""
        self._go.set()
        self._ready.wait()
        if self._failure is not None:
            raise RunError(f"the tracking store {self.uri} cannot be opened: {self._failure}; "
                           "see .scriptrun/agent.log")
        self.flush()
        return self._client

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    # -- writes (queued) -------------------------------------------------------------------------

    def known_experiment_id(self, name: str) -> str | None:
        return self._experiments.get(name)

    def experiment_id(self, name: str) -> str:
        """The experiment's id (created if new), marked as a classic ML experiment so the MLflow
        UI shows its training runs rather than its GenAI views. Writer thread (or after ready)."""
        if name not in self._experiments:
            client = self._client or self.client
            exp = client.get_experiment_by_name(name)
            if exp is None:
                self._experiments[name] = client.create_experiment(name, tags={EXPERIMENT_KIND: CLASSIC_ML})
            else:
                if EXPERIMENT_KIND not in exp.tags:
                    client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND, CLASSIC_ML)
                self._experiments[name] = exp.experiment_id
        return self._experiments[name]

    def create_run(self, run_dir: Path, experiment: str, run_name: str, tags: dict[str, str],
                   params: dict[str, str] | None = None, *, mlflow_run_id: str | None = None,
                   scheduled: Callable[[], bool] = lambda: True) -> str:
        """Create the run in MLflow, shown as ``SCHEDULED`` while ``scheduled()``, with its
        params (MLflow refuses to change a param, so they are written once, here). Returns its
        MLflow id at once when the agent chooses ids; ``mlflow_run_id``: replay a creation."""
        replay = mlflow_run_id is not None
        chosen = mlflow_run_id or (uuid.uuid4().hex if self.chooses_ids else None)
        created: dict[str, str] = {}

        def op() -> None:
            state = SyncState(run_dir)
            if state.created:
                return
            client = self._client
            if replay and _exists(client, chosen):
                created["id"] = str(chosen)
            else:
                _CHOSEN.next = chosen
                try:
                    run = client.create_run(self.experiment_id(experiment), run_name=run_name, tags=tags)
                finally:
                    _CHOSEN.next = None
                created["id"] = run.info.run_id
                self._artifact_uris[run.info.run_id] = run.info.artifact_uri
                if chosen and run.info.run_id != chosen:
                    raise RunError(f"MLflow gave run {run.info.run_id} instead of the chosen id {chosen}")
                items = [_param(k, v) for k, v in (params or {}).items()]
                for i in range(0, len(items), MAX_PARAMS):
                    client.log_batch(run.info.run_id, params=items[i:i + MAX_PARAMS])
            if scheduled():
                client.update_run(created["id"], status="SCHEDULED")
            state.created = True
            state.save()

        self.submit(chosen or "", op)
        if chosen is None:  # the store makes the id: wait for it
            self.flush("")
            if "id" not in created:
                raise RunError(f"MLflow could not create the run in {self.uri}; see .scriptrun/agent.log")
        return chosen or created["id"]

    def set_running(self, mlflow_run_id: str, still: Callable[[], bool] = lambda: True) -> None:
        """Queue MLflow's ``RUNNING`` status (skipped if ``still()`` is false by then: the run's end follows)."""
        def op() -> None:
            if still():
                self._client.update_run(mlflow_run_id, status="RUNNING")

        self.submit(mlflow_run_id, op)

    def log_records(self, mlflow_run_id: str, run_dir: Path, records: list[dict[str, Any]], offset: int) -> None:
        """Queue numeric scalar/list metrics and tags of metrics-file records read up to
        ``offset``; the run's ``mlflow.json`` records the offset once they are written."""
        def op() -> None:
            state = SyncState(run_dir)
            if offset <= state.offset:
                return  # already written (a replay)
            metrics, tags = _metrics_and_tags(records, state.steps)
            for i in range(0, len(metrics), MAX_BATCH):
                self._client.log_batch(mlflow_run_id, metrics=metrics[i:i + MAX_BATCH])
            self._set_tags(mlflow_run_id, tags)
            state.offset = offset
            state.save()

        self.submit(mlflow_run_id, op)

    def set_tags(self, mlflow_run_id: str, tags: dict[str, Any]) -> None:
        tags = dict(tags)
        self.submit(mlflow_run_id, lambda: self._set_tags(mlflow_run_id, tags))

    def _set_tags(self, mlflow_run_id: str, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(str(k), ("" if v is None else str(v))[:MAX_TAG_VALUE]) for k, v in tags.items()]
        for i in range(0, len(items), MAX_PARAMS):
            self._client.log_batch(mlflow_run_id, tags=items[i:i + MAX_PARAMS])

    def log_artifacts(self, mlflow_run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None) -> None:
        """Upload a folder's files now (after the writes queued before; the folder may go away after)."""
        self.submit(mlflow_run_id, lambda: self._log_dir(mlflow_run_id, local_dir, artifact_path))
        self.flush(mlflow_run_id)

    def _log_dir(self, mlflow_run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None) -> None:
        if Path(local_dir).is_dir() and any(Path(local_dir).iterdir()):
            self._client.log_artifacts(mlflow_run_id, os.fspath(local_dir), artifact_path)

    def upload(self, mlflow_run_id: str, name: str, path: str) -> None:
        """Queue ``run.upload_file``/``upload_folder``/``log_image``: ``path``, a file or folder
        staged in the run folder under ``name``'s last part (kept until then), as ``name``."""
        def op() -> None:
            if Path(path).is_dir():
                self._client.log_artifacts(mlflow_run_id, path, name.strip("/"))
            elif Path(path).exists():
                self._client.log_artifact(mlflow_run_id, path, posixpath.dirname(name.strip("/")) or None)

        self.submit(mlflow_run_id, op)

    def end_run(self, mlflow_run_id: str, run_dir: Path, status: RunStatus, end_time: float, *,
                tags: dict[str, Any], files: list[tuple[Path, str | None]], folders: list[tuple[Path, str]],
                metrics_file: Path, after: Callable[[], Any] | None = None) -> None:
        """Queue a run's end: its files and folders uploaded (those that exist), the
        ``log_row``/``log_table`` tables of its metrics file as MLflow tables, its tags, MLflow's
        end state; then ``after()`` (removing its working folder) and ``mlflow.json`` says the
        end was written (a restarted agent replays it otherwise)."""
        def op() -> None:
            state = SyncState(run_dir)
            if state.ended:
                return
            client = self._client
            uploads = [(file, artifact_path) for file, artifact_path in files if file.is_file()]
            for folder, artifact_path in folders:
                if folder.is_dir():
                    uploads += [(file, posixpath.join(artifact_path, file.parent.relative_to(folder).as_posix())
                                 .removesuffix("/."))
                                for file in sorted(folder.rglob("*")) if file.is_file()]
            sizes = [file.stat().st_size for file, _ in uploads]
            self.uploading[mlflow_run_id] = (0, sum(sizes))
            try:
                repo = self._artifact_repository(client, mlflow_run_id, self._artifact_uris.pop(mlflow_run_id, None))
                for (file, artifact_path), size in zip(uploads, sizes, strict=True):
                    repo.log_artifact(os.fspath(file), artifact_path)
                    done, total = self.uploading[mlflow_run_id]
                    self.uploading[mlflow_run_id] = (done + size, total)
            finally:
                del self.uploading[mlflow_run_id]
            records, _ = read_records(metrics_file)
            for name, columns in table_columns(records).items():
                try:
                    client.log_table(mlflow_run_id, data=columns, artifact_file=f"tables/{name}.json")
                except Exception:  # noqa: BLE001 - a table MLflow refuses must not keep the run from ending
                    log.exception("logging table %s of run %s failed", name, mlflow_run_id)
            self._set_tags(mlflow_run_id, tags)
            client.set_terminated(mlflow_run_id, _TERMINAL[status], end_time=int(end_time * 1000))
            if after is not None:
                after()
            state.ended = True
            state.save()

        self.submit(mlflow_run_id, op)

    # -- reads (after the writes queued before them) ----------------------------------------------

    def get_tags(self, mlflow_run_id: str) -> dict[str, str]:
        self.flush(mlflow_run_id)
        return dict(self.client.get_run(mlflow_run_id).data.tags)

    def list_artifacts(self, mlflow_run_id: str, path: str | None = None) -> list[str]:
        self.flush(mlflow_run_id)
        out: list[str] = []
        for info in self.client.list_artifacts(mlflow_run_id, path):
            if info.is_dir:
                out.extend(self.list_artifacts(mlflow_run_id, info.path))
            else:
                out.append(info.path)
        return sorted(out)

    def download(self, mlflow_run_id: str, files: dict[str, str]) -> None:
        """Write each run file ``name`` to its ``target`` path, through a temporary folder
        beside it (a partial file never shows). FileNotFoundError(name) for a missing one."""
        self.flush(mlflow_run_id)
        repo = self._artifact_repository(self.client, mlflow_run_id)
        by_folder: dict[Path, list[tuple[str, Path]]] = collections.defaultdict(list)
        for name, target in files.items():
            by_folder[Path(target).parent].append((name, Path(target)))
        for folder, items in by_folder.items():  # one temporary folder per target folder
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder, prefix=".scriptrun-download-") as tmp:
                for name, target in items:
                    try:
                        local = repo.download_artifacts(name, tmp)
                    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing artifact
                        raise FileNotFoundError(name) from exc
                    os.replace(local, target)

    def _artifact_repository(self, client: Any, mlflow_run_id: str, location: str | None = None) -> Any:
        """The run's artifact store, found once for many files (MLflow's per-file functions
        read the whole run from the store first): at ``location`` when known, else asked."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        return get_artifact_repository(location or client.get_run(mlflow_run_id).info.artifact_uri,
                                       tracking_uri=self.uri)

    def metric_history(self, mlflow_run_id: str) -> dict[str, list[float]]:
        """Every MLflow metric of the run (also those logged with plain ``mlflow.log_metric``)."""
        self.flush(mlflow_run_id)
        client = self.client
        out = {}
        for key in client.get_run(mlflow_run_id).data.metrics:
            history = sorted(client.get_metric_history(mlflow_run_id, key), key=lambda m: (m.step, m.timestamp))
            out[key] = [m.value for m in history]
        return out


def _write_ahead_log(client: Any) -> None:
    """SQLite in WAL mode with ``synchronous=NORMAL``: a commit no longer waits for the disk
    (measured here: create + tag + end of a run 26 ms -> 10 ms). A killed process loses
    nothing; a power cut may lose the last commits, which the run folders replay. Readers
    (scripts, ``mlflow ui``) keep working: WAL mode is the file's, for every connection."""
    try:
        from sqlalchemy import event

        engine = client._tracking_client.store.engine
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")

        @event.listens_for(engine, "connect")
        def _no_fsync_per_commit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        engine.dispose()  # new connections get the pragma
    except Exception:  # noqa: BLE001 - a store without these internals keeps its defaults
        log.info("could not switch %s to WAL mode", client.tracking_uri, exc_info=True)


def _exists(client: Any, mlflow_run_id: str | None) -> bool:
    try:
        client.get_run(mlflow_run_id)
        return True
    except Exception:  # noqa: BLE001 - MLflow raises its own exception for a missing run
        return False


def _param(key: str, value: str) -> Any:
    from mlflow.entities import Param

    return Param(key, value)


def _metrics_and_tags(records: Iterable[dict[str, Any]], steps: dict[str, int]) -> tuple[list[Any], dict[str, str]]:
    """Numeric scalar/list metrics (``steps`` numbers those logged without one) and tags."""
    from mlflow.entities import Metric

    metrics: list[Any] = []
    tags: dict[str, str] = {}
    for rec in records:
        kind, name = rec.get("k"), rec.get("n")
        ts = int(rec.get("t") or time.time() * 1000)
        if kind == "m":
            values = [rec.get("v")]
        elif kind == "l":
            values = list(rec.get("v") or [])
        elif kind == "tag":
            tags[str(name)] = "" if rec.get("v") is None else str(rec.get("v"))
            continue
        else:
            continue
        for value in values:
            if isinstance(value, (int, float)):  # bools too, as 0/1
                step = rec.get("s")
                if step is None:
                    step = steps.get(name, 0)
                steps[name] = int(step) + 1
                metrics.append(Metric(str(name), float(value), ts, int(step)))
    return metrics, tags
