"""``Run``: the handle of one run, with v1's shapes (status, details, metrics, files, tags).

Reads and control go through the workspace agent; metric writes (``log*``) are appended to
the run's metrics file and never wait on the tracking store.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scriptrun.agent import protocol
from scriptrun.agent.client import AgentClient, send_request
from scriptrun.compute.backend import SECRET_NAMES_VAR
from scriptrun.errors import ActivityFailedException, RunError, WorkspaceError
from scriptrun.models import register_model_from_run
from scriptrun.progress import Progress
from scriptrun.rundir import METRICS_FILE, UPLOADS_DIR, MetricsWriter, RunStatus, is_terminal, sorted_logs
from scriptrun.runs.metrics import to_scalar
from scriptrun.workspace import Workspace

if TYPE_CHECKING:
    from scriptrun.runs.experiment import Experiment


def agent_client(workspace: Workspace) -> AgentClient:
    return AgentClient(workspace.root, workspace.agent_socket)


def agent_info(workspace: Workspace) -> dict[str, Any] | None:
    """What the workspace's agent is doing (pid, active and queued runs…); None if it is not running."""
    try:
        return send_request(workspace.agent_socket, protocol.Ping(), timeout=10)
    except OSError:
        return None


def list_runs(workspace: Workspace, *, experiment: str | None = None, status: str | None = None,
              limit: int | None = None, parent_run_id: str | None = None) -> list[dict[str, Any]]:
    """The details of the workspace's runs, newest first (all experiments unless one is named)."""
    return agent_client(workspace).request(protocol.ListRuns(experiment=experiment, status=status, limit=limit,
                                                             parent_run_id=parent_run_id))


class Run:
    """A run in a workspace. ``Run(experiment, run_id)`` rehydrates an existing run."""

    _outputs_dir: str | None = None  # an interactive run (start_logging) uploads this folder when it ends

    def __init__(self, experiment: Experiment, run_id: str, outputs: Any = None, *, _details: dict | None = None,
                 **kwargs: Any):
        self.experiment = experiment
        self._id = run_id
        self._client = agent_client(experiment.workspace)
        self._details = _details if _details is not None else self._client.request(protocol.Details(run_id=run_id))
        self._writer: MetricsWriter | None = None

    # -- identity ---------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def type(self) -> str:
        return self._details.get("type", "scriptrun.scriptrun")

    @property
    def status(self) -> str:
        return self._details.get("status", RunStatus.QUEUED.value)

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self._details.get("tags") or {})

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._details.get("properties") or {})

    @property
    def display_name(self) -> str | None:
        """The run's short name, its name in MLflow (``<experiment>-<n>`` unless set)."""
        return self.get_details().get("displayName")

    @display_name.setter
    def display_name(self, value: str) -> None:
        self.set_tags({"mlflow.runName": value})

    @property
    def description(self) -> str | None:
        """The run's description (MLflow's, markdown); set it here or with ``description:`` in
        the job YAML."""
        return self.get_details().get("description")

    @description.setter
    def description(self, value: str) -> None:
        self.set_tags({"mlflow.note.content": value})

    @property
    def parent(self) -> Run | None:
        parent_id = self._details.get("parentRunId")
        return Run(self.experiment, parent_id) if parent_id else None

    @property
    def _run_dir(self) -> Path:
        return self.experiment.workspace.run_dir(self._id)

    def __repr__(self) -> str:
        return f"Run(experiment={self.experiment.name!r}, id={self._id!r}, status={self.status!r})"

    # -- status -----------------------------------------------------------------------------

    def get_status(self) -> str:
        if not is_terminal(self.status):
            self._details["status"] = self._client.request(protocol.Status(run_id=self._id))
        return self.status

    def get_details(self) -> dict[str, Any]:
        """v1's details dict; each ``inputDatasets[i]["dataset"]`` (and a registered output's
        ``outputDatasets[i]["dataset"]``) is a Dataset (``.name``, ``.version``, ``.to_path()``,
        ``.fingerprint`` of the data the run saw), as in v1."""
        self._details = self._client.request(protocol.Details(run_id=self._id))
        details = dict(self._details)
        for key in ("inputDatasets", "outputDatasets"):
            if details.get(key):
                details[key] = [_with_dataset(entry, self.experiment.workspace) for entry in details[key]]
        return details

    def get_details_with_logs(self) -> dict[str, Any]:
        """``get_details()`` with each log file's content instead of its location (v1)."""
        details = self.get_details()
        details["logFiles"] = {name: Path(path).read_text(errors="replace") if Path(path).is_file() else ""
                               for name, path in (details.get("logFiles") or {}).items()}
        return details

    def get_all_logs(self, destination: str | os.PathLike[str] | None = None) -> list[str]:
        """Download the run's logs (captured output, and what the script wrote to ``./logs``)
        into ``destination`` (v1's default: ``./assets/<run id>``); return their paths."""
        target = Path(destination) if destination is not None else Path("assets") / self._id
        written = []
        for name, path in (self.get_details().get("logFiles") or {}).items():
            if Path(path).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                written.append(shutil.copyfile(path, target / name))
        if is_terminal(self.status):  # the script's ./logs are run files once it ended
            written += self.download_files(prefix="logs/", output_directory=target)
        return [str(p) for p in written]

    def get_environment(self) -> Any:
        """The environment this run was submitted with (v1): its definition as it ran; the
        default environment when it named none."""
        from scriptrun.environment.environment import DEFAULT_ENVIRONMENT_NAME, Environment, resolve_reference
        from scriptrun.spec import EnvironmentSpec

        definition = self.get_details().get("runDefinition")
        if not definition:
            raise RunError(f"run {self._id} ran no script of its own (a pipeline, sweep or interactive run), "
                           "so it has no environment; ask one of its children")
        environment = definition.get("environment")
        if environment is None:
            return Environment(DEFAULT_ENVIRONMENT_NAME)
        if isinstance(environment, str):
            return resolve_reference(self.experiment.workspace, environment)
        return Environment._from_spec(EnvironmentSpec.model_validate(environment),
                                      definition.get("docker_runtime_config"))

    def get_snapshot_id(self) -> str | None:
        return self._details.get("snapshotId") or self.get_details().get("snapshotId")

    def restore_snapshot(self, snapshot_id: str | None = None, path: str | os.PathLike[str] | None = None) -> str:
        """Write the run's source snapshot (or the snapshot ``snapshot_id``) as a ZIP file into
        the folder ``path`` (default: the current folder), or to ``path`` itself when it ends in
        ``.zip``; return the ZIP's path (v1)."""
        from scriptrun.workspace.snapshot import materialize

        snapshot_id = snapshot_id or self.get_snapshot_id()
        if not snapshot_id:
            raise RunError(f"run {self._id} has no source snapshot (interactive and parent runs have none)")
        target = Path(path) if path is not None else Path.cwd()
        zip_path = target if target.suffix == ".zip" else target / f"{snapshot_id}.zip"
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            materialize(self.experiment.workspace, snapshot_id, Path(tmp) / "snapshot")
            archive = shutil.make_archive(str(Path(tmp) / "archive"), "zip", Path(tmp) / "snapshot")
            shutil.move(archive, zip_path)
        return str(zip_path)

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = True) -> dict[str, Any]:
        """Block until the run ends; stream its log while running when ``show_output``."""
        streamer = _LogStreamer(self._run_dir / "logs") if show_output else None
        reasons = WaitReasons(self) if show_output else None
        if reasons:
            print(f"RunId: {self._id}")
            print(f"Run folder: {self._run_dir}\n", flush=True)
            reasons.start()
        try:
            while True:
                status = self._client.request(protocol.Wait(run_id=self._id, timeout=0.2 if streamer else 5.0))
                if streamer:
                    streamer.pump()
                if is_terminal(status):
                    break
        except KeyboardInterrupt:
            print(f"\nStopped waiting; run {self._id} keeps running (run.cancel() stops it).", file=sys.stderr)
            raise
        finally:
            if reasons:
                reasons.stop()
        details = self.get_details()
        if streamer:
            streamer.pump()
            print(f"\nExecution Summary\n=================\nRunId: {self._id}\nStatus: {details['status']}")
            if details.get("error"):
                print(f"Error: {details['error'].get('message')}")
            sys.stdout.flush()
        if details["status"] == RunStatus.FAILED.value and raise_on_error:
            error = details.get("error") or {}
            raise ActivityFailedException(
                f"run {self._id} failed: {error.get('message', 'no error recorded')}"
                + (f"\n--- end of stderr ---\n{error['stderr_tail'].rstrip()}" if error.get("stderr_tail") else ""),
                error_details=error)
        return details

    def cancel(self) -> None:
        """Stop the run: every process of its tree gets SIGTERM, then SIGKILL after a grace period."""
        self._details["status"] = self._client.request(protocol.Cancel(run_id=self._id))

    def complete(self, _set_status: bool = True) -> None:
        self._end(RunStatus.COMPLETED, None)

    def fail(self, error_details: str | BaseException | None = None, error_code: str | None = None,
             _set_status: bool = True) -> None:
        """End the run Failed with ``error_details``. On a submitted run (v1 allows it) its
        processes are stopped first, as by :meth:`cancel`."""
        if error_details is not None and not isinstance(error_details, (str, BaseException)):
            raise TypeError("error_details must be a str or an exception")
        error = {"code": error_code or "UserError", "message": str(error_details or "failed by the user")}
        self._end(RunStatus.FAILED, error)

    def _end(self, status: RunStatus, error: dict[str, Any] | None) -> None:
        self._flush()
        self._details["status"] = self._client.request(protocol.EndInteractive(
            run_id=self._id, status=status, error=error, outputs_dir=self._outputs_dir))

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is None:
            self.complete()
        else:
            self.fail(exc)

    # -- metrics ------------------------------------------------------------------------------

    def _write(self, record: dict[str, Any]) -> None:
        if self._writer is None:
            self._writer = MetricsWriter(self._run_dir / METRICS_FILE)
        self._writer.write(record)

    def _flush(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a scalar; repeated calls append to the series."""
        self._write({"k": "m", "n": name, "v": to_scalar(name, value), "s": step})

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        self._write({"k": "l", "n": name, "v": [to_scalar(name, v) for v in value]})

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._write({"k": "r", "n": name, "v": {k: to_scalar(name, v) for k, v in kwargs.items()}})

    def log_table(self, name: str, value: dict[str, Any], description: str = "") -> None:
        columns = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in value.items()}
        if len({len(v) for v in columns.values()}) > 1:
            raise ValueError(f"log_table({name!r}): all columns must have the same length")
        self._write({"k": "tb", "n": name, "v": {k: [to_scalar(name, x) for x in v] for k, v in columns.items()}})

    def log_image(self, name: str, path: str | os.PathLike[str] | None = None, plot: Any = None,
                  description: str = "") -> None:
        if (path is None) == (plot is None):
            raise ValueError("log_image needs exactly one of path= or plot=")
        staged = self._stage(name + (Path(path).suffix if path is not None else ".png"))
        if plot is not None:
            plot.savefig(staged)
        else:
            shutil.copyfile(path, staged)
        self._write({"k": "img", "n": name, "p": f"images/{staged.name}", "src": str(staged)})

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
                    populate: bool = False) -> dict[str, Any]:
        self._flush()
        metrics = self._client.request(protocol.Metrics(run_id=self._id))
        if name is not None:
            metrics = {name: metrics[name]} if name in metrics else {}
        if recursive:
            out = {self._id: metrics}
            for child in self.get_children(recursive=True):
                out[child.id] = child.get_metrics(name=name)
            return out
        return metrics

    # -- tags and properties --------------------------------------------------------------------

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any] | str) -> None:
        tags = {tags: None} if isinstance(tags, str) else dict(tags)
        self._details["tags"] = self._client.request(protocol.SetTags(run_id=self._id, tags=tags))

    def get_tags(self) -> dict[str, Any]:
        self._flush()
        return self._client.request(protocol.GetTags(run_id=self._id))

    def add_properties(self, properties: dict[str, Any]) -> None:
        if properties:
            self._details["properties"] = self._client.request(
                protocol.AddProperties(run_id=self._id, properties=properties))

    def get_properties(self) -> dict[str, str]:
        self._flush()
        return self._client.request(protocol.GetProperties(run_id=self._id))

    # -- files --------------------------------------------------------------------------------

    def _stage(self, name: str) -> Path:
        folder = self._run_dir / UPLOADS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{uuid.uuid4().hex[:8]}-{Path(name).name}"

    def upload_file(self, name: str, path_or_stream: str | os.PathLike[str] | IO[bytes],
                    datastore_name: str | None = None) -> None:
        if hasattr(path_or_stream, "read"):
            with tempfile.NamedTemporaryFile(delete=False, dir=self._run_dir) as tmp:
                shutil.copyfileobj(path_or_stream, tmp)  # type: ignore[arg-type]
            path = tmp.name
        else:
            path = os.fspath(path_or_stream)
        self._client.request(protocol.Upload(run_id=self._id, name=name, path=os.path.abspath(path)))

    def upload_files(self, names: list[str], paths: list[str], return_artifacts: bool = False,
                     timeout_seconds: int | None = None, datastore_name: str | None = None) -> None:
        if len(names) != len(paths):
            raise TypeError("upload_files: names and paths must have the same length")
        with Progress(f"Uploading files to run {self._id}", total=len(names), unit="files") as progress:
            for name, path in zip(names, paths, strict=True):
                self.upload_file(name, path)
                progress.advance()

    def upload_folder(self, name: str, path: str | os.PathLike[str], datastore_name: str | None = None) -> None:
        self._client.request(protocol.Upload(run_id=self._id, name=name, path=os.path.abspath(path)))

    def get_file_names(self) -> list[str]:
        self._flush()
        return self._client.request(protocol.FileNames(run_id=self._id))

    def download_file(self, name: str, output_file_path: str | os.PathLike[str] | None = None,
                      _validate_checksum: bool = False) -> str:
        parts = name.replace("\\", "/").split("/")
        if os.path.isabs(name) or parts[0] == "" or ".." in parts:  # would land outside the run
            raise RunError(f"download_file({name!r}): not a file of run {self._id}: names are paths inside "
                           "the run, without `..` or a leading `/`, as get_file_names() lists them")
        target = Path(output_file_path or Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        self._client.request(protocol.Download(run_id=self._id, files={name: str(target.resolve())}))
        return str(target)

    def download_files(self, prefix: str | None = None, output_directory: str | os.PathLike[str] | None = None,
                       output_paths: list[str] | None = None, batch_size: int = 100, append_prefix: bool = True,
                       timeout_seconds: int | None = None) -> list[str]:
        parts = (prefix or "").replace("\\", "/").split("/")
        if prefix and (os.path.isabs(prefix) or parts[0] == "" or ".." in parts):
            raise RunError(f"download_files(prefix={prefix!r}): the prefix escapes run {self._id}: give a "
                           "path inside the run, without `..` or a leading `/`, e.g. prefix='outputs/'")
        names = [n for n in self.get_file_names() if prefix is None or n.startswith(prefix)]
        base = Path(output_directory or ".")
        targets = {}
        for i, name in enumerate(names):
            if output_paths:
                targets[name] = Path(output_paths[i])
            else:
                targets[name] = base / (name if append_prefix or not prefix else name[len(prefix):].lstrip("/"))
        batch = max(1, batch_size)
        with Progress(f"Downloading files of run {self._id}", total=len(names), unit="files") as progress:
            for start in range(0, len(names), batch):  # one request per batch of files
                chunk = names[start:start + batch]
                self._client.request(protocol.Download(run_id=self._id,
                                                       files={n: str(targets[n].resolve()) for n in chunk}))
                progress.advance(len(chunk))
        return [str(targets[n]) for n in names]

    # -- family -----------------------------------------------------------------------------

    def submit_child(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> Run:
        """Submit ``config`` (a ``ScriptRunConfig``, …) as a child run of this one."""
        return self.experiment.submit(config, tags=tags, _parent_run_id=self._id, **kwargs)

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: Any = None) -> Run:
        """Start an interactive child run (end it with ``complete()``/``fail()``)."""
        child_id = run_id or f"{self._id}_{name or uuid.uuid4().hex[:8]}"
        return self.experiment.start_logging(run_id=child_id, outputs=outputs if outputs is not None else False,
                                             _parent_run_id=self._id)

    def create_children(self, count: int | None = None, tag_key: str | None = None,
                        tag_values: list[str] | None = None) -> list[Run]:
        """Start ``count`` interactive child runs, or one per value of ``tag_values`` tagged
        ``tag_key``=value (v1; at most 100). End each with ``complete()``/``fail()``."""
        if (count is None) == (tag_key is None and tag_values is None) or (tag_key is None) != (tag_values is None):
            raise RunError("create_children needs either count=N or both tag_key= and tag_values=")
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise RunError(f"create_children(count={count!r}): expected a whole number >= 1")
            tags = [{"azureml.batch_child_number": str(i)} for i in range(count)]
        else:
            tags = [{str(tag_key): str(value)} for value in tag_values or []]
        if not tags or len(tags) > 100:
            raise RunError(f"create_children creates 1 to 100 children at a time, not {len(tags)}")
        children = []
        for child_tags in tags:
            child = self.child_run()
            child.set_tags(child_tags)
            children.append(child)
        return children

    def get_secret(self, name: str) -> str:
        """v1: the value of secret ``name``. Inside a job, a variable the job declared in
        ``secret_environment_variables``; otherwise the workspace's key vault
        (``ws.get_default_keyvault()``, kept in ``.scriptrun/secrets.env``)."""
        return self.get_secrets([name])[name]

    def get_secrets(self, secrets: list[str]) -> dict[str, str]:
        """v1: the values of several secrets, by name (see :meth:`get_secret`)."""
        declared = set(os.environ.get(SECRET_NAMES_VAR, "").split(",")) - {""}
        found = {n: os.environ[n] for n in secrets if n in declared and n in os.environ}
        rest = [n for n in secrets if n not in found]
        if rest:
            try:
                found.update(self.experiment.workspace.get_default_keyvault().get_secrets(rest))
            except WorkspaceError as exc:
                raise RunError(f"{exc.message}; or declare it for the job: "
                               f"ScriptRunConfig(..., secret_environment_variables=[{rest[0]!r}])") from None
        return {n: found[n] for n in secrets}

    def register_model(self, model_name: str, model_path: str | None = None, tags: dict[str, Any] | None = None,
                       properties: dict[str, Any] | None = None, description: str | None = None,
                       **kwargs: Any) -> Any:
        """v1's ``run.register_model``: register ``model_path`` (an artifact of this run, e.g.
        ``outputs/model.pkl``) as a new version of ``model_name`` in the workspace's MLflow
        model registry; returns the ``Model``."""
        self._flush()
        return register_model_from_run(self._id, self.experiment.workspace, model_name, model_path, tags,
                                       properties, description)

    def get_children(self, recursive: bool = False, tags: Any = None, properties: Any = None,
                     type: str | None = None, status: str | None = None) -> Iterator[Run]:
        for details in self._client.request(protocol.ListRuns(parent_run_id=self._id)):
            child = Run(self.experiment, details["runId"], _details=details)
            if _matches(details, type=type, status=status, tags=tags, properties=properties):
                yield child
            if recursive:
                yield from child.get_children(recursive=True, tags=tags, properties=properties, type=type,
                                              status=status)

    @staticmethod
    def get(workspace: Workspace, run_id: str) -> Run:
        from scriptrun.runs.experiment import Experiment

        details = agent_client(workspace).request(protocol.Details(run_id=run_id))
        return Run(Experiment(workspace, details["experiment"]), run_id, _details=details)

    @staticmethod
    def list(experiment: Experiment, type: str | None = None, tags: Any = None, properties: Any = None,
             status: str | None = None, include_children: bool = False) -> Iterator[Run]:
        rows = agent_client(experiment.workspace).request(
            protocol.ListRuns(experiment=experiment.name, include_children=include_children))
        for details in rows:
            if _matches(details, type=type, status=status, tags=tags, properties=properties):
                yield Run(experiment, details["runId"], _details=details)

    @classmethod
    def get_submitted_run(cls, **kwargs: Any) -> Any:
        """Deprecated v1 alias of ``Run.get_context(allow_offline=False)``."""
        warnings.warn("Run.get_submitted_run() is deprecated: use Run.get_context(allow_offline=False)",
                      DeprecationWarning, stacklevel=2)
        return cls.get_context(allow_offline=False)

    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any) -> Any:
        """The live run inside a submitted job; outside one, an offline run that prints and
        records locally (``allow_offline=False`` raises instead)."""
        from scriptrun.runs.context import get_context

        return get_context(allow_offline=allow_offline)


def _matches(details: dict[str, Any], *, type: str | None, status: str | None, tags: Any, properties: Any) -> bool:
    if type is not None and details.get("type") != type:
        return False
    if status is not None and details.get("status") != status:
        return False
    for wanted, have in ((tags, details.get("tags") or {}), (properties, details.get("properties") or {})):
        if wanted is None:
            continue
        if isinstance(wanted, str):
            if wanted not in have:
                return False
        elif any(have.get(k) != v for k, v in wanted.items()):
            return False
    return True


def _with_dataset(entry: dict[str, Any], workspace: Workspace) -> dict[str, Any]:
    """A lineage entry with its ``dataset`` as the Dataset object the run read."""
    from scriptrun.data.dataset import dataset_from_spec
    from scriptrun.spec.job import DatasetSpec

    dataset = entry.get("dataset")
    if not isinstance(dataset, dict) or not isinstance(dataset.get("definition"), dict):
        return entry
    spec = DatasetSpec.model_validate(dataset["definition"])
    if dataset.get("fingerprint"):  # what the run saw (the data may have changed since)
        spec = spec.model_copy(update={"fingerprint": dataset["fingerprint"]})
    return {**entry, "dataset": dataset_from_spec(spec, workspace)}


def new_run_id(experiment: str) -> str:
    """v1's run id shape: ``<experiment>_<unix seconds>_<8 hex>``."""
    return f"{experiment}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


class WaitReasons(threading.Thread):
    """While ``run`` is not running or ended yet, say why on stderr: its place in the queue,
    what its preparation does, what its finalizing uploads (a progress bar when that takes a
    while). Runs until the run has ended or :meth:`stop`."""

    POLL_SECONDS = 0.3

    def __init__(self, run: Run) -> None:
        super().__init__(name=f"wait-reasons-{run.id}", daemon=True)
        self._run = run
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=5)

    def run(self) -> None:
        last, bar = None, None
        try:
            while not self._stopped.wait(self.POLL_SECONDS):  # a run that starts at once has nothing to explain
                answer = self._run._client.request(protocol.Waiting(run_id=self._run.id))
                reason, progress = answer["reason"], answer.get("progress")
                if progress is not None:
                    bar = bar or Progress(reason, total=progress[1])
                    bar.update(progress[0], total=progress[1])
                elif reason != last and reason is not None:
                    print(reason, file=sys.stderr, flush=True)
                last = reason
                if reason is None and is_terminal(answer["status"]):
                    return
        except Exception:  # noqa: BLE001 - a hint only: the waiting caller reports real problems
            return
        finally:
            if bar is not None:
                bar.close()


class _LogStreamer:
    """Prints what the run's main log gained since the last call: rank 0 (or the single
    process) first; until that exists, whatever comes first (the environment build log)."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.offsets: dict[Path, int] = {}
        self.current: Path | None = None

    def pump(self) -> None:
        files = sorted_logs(self.logs)
        if not files:
            return
        if self.current is not None and self.current != files[0]:
            self._show(self.current)  # finish the file we were following before switching
        self.current = files[0]
        self._show(self.current)

    def _show(self, path: Path) -> None:
        with open(path, "rb") as fh:
            fh.seek(self.offsets.get(path, 0))
            data = fh.read()
        if data:
            self.offsets[path] = self.offsets.get(path, 0) + len(data)
            sys.stdout.write(data.decode("utf-8", errors="replace"))
            sys.stdout.flush()
