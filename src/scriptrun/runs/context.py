"""``Run.get_context()``: the live run inside a submitted job, or an offline run outside one.

Inside a job (``SCRIPTRUN_RUN_ID`` is set) the run appends metrics to its metrics file; no
call waits on the tracking store. Outside a job, :class:`OfflineRun` prints what would have
been logged — as v1's offline run does — and also records it, so a script's own reads
(``get_metrics``, ``get_tags``…) work unchanged on a laptop.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from pathlib import Path
from typing import Any

from scriptrun.errors import RunError
from scriptrun.rundir import DATASETS_FILE, RunStatus, shape_metrics
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.metrics import to_scalar
from scriptrun.runs.run import Run
from scriptrun.workspace import Workspace

_LIVE: dict[str, Run] = {}


class SubmittedRun(Run):
    """The run a submitted script is part of (``Run.get_context()`` inside a job)."""

    def __init__(self, run_id: str, experiment_name: str, workspace_root: str, run_dir: str):
        experiment = Experiment(Workspace(workspace_root), experiment_name)
        super().__init__(experiment, run_id, _details={"runId": run_id, "status": RunStatus.RUNNING.value})
        self._dir = Path(run_dir)

    @property
    def _run_dir(self) -> Path:  # type: ignore[override]
        return self._dir  # on a cluster without the workspace's folder, a scratch folder of the driver

    @property
    def input_datasets(self) -> dict[str, Any]:
        """Each input by name: its local path (mount/download), or for direct mode the
        dataset object (``.to_pandas_dataframe()`` for a tabular one)."""
        out: dict[str, Any] = {}
        for name, item in self._datasets().get("inputs", {}).items():
            if item.get("mode") == "direct":
                # a rare path: a job's Run.get_context() does not build the data package and the spec models
                from scriptrun.data.dataset import dataset_from_spec
                from scriptrun.spec.job import DatasetSpec

                spec = DatasetSpec.model_validate(item["dataset"])
                out[name] = dataset_from_spec(spec, self.experiment.workspace)
            else:
                out[name] = item.get("value")
        return out

    @property
    def output_datasets(self) -> dict[str, Any]:
        """Each output by name: the local folder to write it to (copied to its datastore when
        the run completes)."""
        return {name: item.get("value") for name, item in self._datasets().get("outputs", {}).items()}

    def get_hyperparameters(self) -> dict[str, Any]:
        """In a HyperDrive trial: its sampled values by parameter name as written in the
        parameter space (``{"--lr": 0.01}``), the same values the script gets as arguments.
        Outside a sweep: ``{}``."""
        return hyperparameters_from_env()

    def _datasets(self) -> dict[str, Any]:
        try:
            return json.loads((self._run_dir / DATASETS_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def complete(self, _set_status: bool = True) -> None:
        """Flush; the run's status follows its process (as v1's submitted run)."""
        self._flush()

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        self._flush()
        if error_details is not None:
            print(f"run.fail: {error_details}", flush=True)

    def cancel(self) -> None:
        warnings.warn("cancel() from inside the run does nothing; exit the script instead", stacklevel=2)

    def flush(self, timeout_seconds: int = 300) -> None:
        self._flush()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._flush()


class OfflineRun:
    """A stand-in for a run when the script is not part of one: prints and records locally."""

    def __init__(self, run_id: str | None = None):
        self.id = run_id or f"OfflineRun_{uuid.uuid4()}"
        self.experiment = None
        self.parent = None
        self.status = RunStatus.RUNNING.value
        self.input_datasets: dict[str, Any] = {}
        self.output_datasets: dict[str, Any] = {}
        self._records: list[dict[str, Any]] = []
        self._tags: dict[str, Any] = {}
        self._properties: dict[str, str] = {}
        self._files: list[str] = []

    def __repr__(self) -> str:
        return f"OfflineRun(id={self.id!r})"

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        print(f"Attempted to log scalar metric {name}:\n{value}")
        self._records.append({"k": "m", "n": name, "v": to_scalar(name, value), "s": step})

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        print(f"Attempted to log list metric {name}:\n{value}")
        self._records.append({"k": "l", "n": name, "v": list(value)})

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        print(f"Attempted to log row metric {name}:\n{kwargs}")
        self._records.append({"k": "r", "n": name, "v": kwargs})

    def log_table(self, name: str, value: dict[str, Any], description: str = "") -> None:
        print(f"Attempted to log table metric {name}:\n{value}")
        self._records.append({"k": "tb", "n": name, "v": {k: list(v) if isinstance(v, (list, tuple)) else [v]
                                                           for k, v in value.items()}})

    def log_image(self, name: str, path: Any = None, plot: Any = None, description: str = "") -> None:
        print(f"Attempted to log image metric {name}:\n{path or plot}")
        self._records.append({"k": "img", "n": name, "p": str(path or "plot")})

    def get_metrics(self, name: str | None = None, recursive: bool = False, **kwargs: Any) -> dict[str, Any]:
        metrics = shape_metrics(self._records)
        if name is None:
            return metrics
        return {name: metrics[name]} if name in metrics else {}

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any] | str) -> None:
        tags = {tags: None} if isinstance(tags, str) else tags
        print(f"Attempted to set tags {tags}")
        self._tags.update(tags)

    def get_tags(self) -> dict[str, Any]:
        return dict(self._tags)

    def add_properties(self, properties: dict[str, Any]) -> None:
        print(f"Attempted to add properties {properties}")
        self._properties.update({k: str(v) for k, v in properties.items()})

    def get_properties(self) -> dict[str, str]:
        return dict(self._properties)

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: str | None = None) -> None:
        print(f"Attempted to upload file {name} from {path_or_stream}")
        self._files.append(name)

    def upload_files(self, names: list[str], paths: list[str], **kwargs: Any) -> None:
        for name, path in zip(names, paths, strict=True):
            self.upload_file(name, path)

    def upload_folder(self, name: str, path: Any, datastore_name: str | None = None) -> None:
        print(f"Attempted to upload folder {name} from {path}")
        self._files.append(name)

    def get_file_names(self) -> list[str]:
        return list(self._files)

    def get_status(self) -> str:
        return self.status

    def get_hyperparameters(self) -> dict[str, Any]:
        """``{}``: an offline run is no trial of a sweep."""
        return {}

    def get_details(self) -> dict[str, Any]:
        return {"runId": self.id, "status": self.status, "target": "offline", "properties": self.get_properties(),
                "tags": self.get_tags(), "inputDatasets": [], "outputDatasets": []}

    def get_children(self, **kwargs: Any) -> list[Any]:
        return []

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: Any = None) -> OfflineRun:
        return OfflineRun(run_id or f"{self.id}.{name or uuid.uuid4()}")

    def complete(self, _set_status: bool = True) -> None:
        self.status = RunStatus.COMPLETED.value

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        print(f"Run failed: {error_details}")
        self.status = RunStatus.FAILED.value

    def cancel(self) -> None:
        self.status = RunStatus.CANCELED.value

    def flush(self, timeout_seconds: int = 300) -> None:
        print("Attempted to flush the run")

    def __enter__(self) -> OfflineRun:
        print(f"[START] Run {self.id} context")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        print(f"[STOP] Run {self.id} context")


def hyperparameters_from_env() -> dict[str, Any]:
    """The trial's values, which the sweep passes as JSON in ``SCRIPTRUN_HYPERPARAMETERS``."""
    text = os.environ.get("SCRIPTRUN_HYPERPARAMETERS")
    try:
        values = json.loads(text) if text else {}
    except ValueError:
        raise RunError(f"SCRIPTRUN_HYPERPARAMETERS is not JSON: {text[:200]!r}") from None
    return dict(values) if isinstance(values, dict) else {}


def get_context(allow_offline: bool = True) -> Any:
    run_id = os.environ.get("SCRIPTRUN_RUN_ID")
    if run_id:
        if run_id not in _LIVE:
            _LIVE[run_id] = SubmittedRun(run_id, os.environ.get("SCRIPTRUN_EXPERIMENT", "Default"),
                                         os.environ["SCRIPTRUN_WORKSPACE"], os.environ["SCRIPTRUN_RUN_DIR"])
        return _LIVE[run_id]
    if not allow_offline:
        raise RunError("not inside a scriptrun run (SCRIPTRUN_RUN_ID is not set) and allow_offline=False")
    return OfflineRun()
