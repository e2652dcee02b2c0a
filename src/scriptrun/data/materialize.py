"""Materialising a job's data on the machine that runs it (called by the agent's ``_prepare``
and ``_collect_outputs``).

Before the script starts, :func:`prepare_data` makes every input available and works out
its value — direct mode: the dataset id; mount: the run's own read-only copy in
``<run dir>/data/inputs/<name>`` (cloned copy-on-write where the filesystem can, see
``mounts.py``: nothing the script does reaches the datastore), linked from ``path_on_compute``
when given; download: a writable copy in ``path_on_compute`` (relative to the working
directory) or in the run folder. For a single-file location the value is the file itself,
else the folder. :func:`release_inputs` deletes the copies once the run has ended. Each output gets an
empty local folder. The values are then delivered three ways: substituted for the
placeholders in ``arguments``/``command``, exported as environment variables (``<name>``
and v1's ``AZUREML_DATAREFERENCE_<name>``), and written to ``<run dir>/datasets.json`` for
``Run.get_context().input_datasets`` / ``output_datasets``.

After a run completed, :func:`deliver_outputs` copies each output folder to its datastore
destination and registers it as a new dataset version when asked to.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scriptrun.data.dataset import (
    AbstractDataset,
    FileDatasetFactory,
    copy_dataset,
    dataset_from_spec,
    expand,
    fingerprint,
    is_local_filesystem,
    location_url,
)
from scriptrun.data.datastore import Datastore, filesystem, relative_path
from scriptrun.data.mounts import make_read_only, read_only_view, remove_view
from scriptrun.errors import DataError
from scriptrun.spec.job import MODEL_LOCATION, PLACEHOLDER, V1_PLACEHOLDER, DatasetSpec, InputSpec, JobSpec
from scriptrun.workspace import Workspace
from scriptrun.workspace.locking import atomic_write

DATASETS_FILE = "datasets.json"
INPUTS_DIR = "data/inputs"  # below the run folder: the copies of mounted and downloaded inputs


@dataclass(frozen=True)
class PreparedData:
    """The job with its placeholders filled in, the variables to export, and the lineage."""

    spec: JobSpec
    env: dict[str, str]
    inputs: list[dict[str, Any]]


def resolve_dataset(workspace: Workspace, dataset: DatasetSpec | str) -> DatasetSpec:
    """A registered reference ``"name[:version]"`` → its definition (pinned version)."""
    if isinstance(dataset, DatasetSpec):
        return dataset
    name, sep, version = dataset.rpartition(":")
    if not sep:
        name, version = dataset, "latest"
    return AbstractDataset.get_by_name(workspace, name, version or "latest")._spec


def prepare_data(workspace: Workspace, spec: JobSpec, *, run_dir: Path, workdir: Path) -> PreparedData:
    """Materialise the inputs, create the output folders, and fill in the placeholders."""
    inputs = dict(spec.inputs)
    if spec.resume_from is not None:
        inputs[MODEL_LOCATION] = InputSpec(dataset=DatasetSpec(paths=[spec.resume_from]), mode="mount")
    values: dict[str, dict[str, str]] = {"inputs": {}, "outputs": {}}
    record: dict[str, Any] = {"inputs": {}, "outputs": {}}
    lineage = []
    for name, item in inputs.items():
        try:
            dataset = resolve_dataset(workspace, item.dataset)
            value, view = _deliver_input(workspace, name, item, dataset, run_dir, workdir)
            content = fingerprint(dataset, workspace)
        except DataError as exc:
            raise DataError(f"input {name!r}: {exc}") from None
        values["inputs"][name] = value
        obj = dataset_from_spec(dataset, workspace)
        record["inputs"][name] = {"mode": item.mode, "value": value, "dataset": dataset.model_dump(mode="json")}
        if view:
            record["inputs"][name]["copy"] = view
        lineage.append({"dataset": {"id": obj.id, "name": dataset.name, "version": dataset.version,
                                    "fingerprint": content, "type": dataset.type,
                                    "definition": dataset.model_dump(mode="json")},
                        "consumptionDetails": {"type": "RunInput", "inputName": name, "mechanism": item.mode,
                                               "pathOnCompute": value}})
    for name, out in spec.outputs.items():
        folder = _local(out.source, workdir) if out.source else run_dir / "data" / "outputs" / name
        folder.mkdir(parents=True, exist_ok=True)
        values["outputs"][name] = str(folder)
        record["outputs"][name] = {"mode": out.mode, "value": str(folder)}
    env: dict[str, str] = {}
    for kind in ("inputs", "outputs"):
        for name, value in values[kind].items():
            env[name] = value
            env[f"AZUREML_DATAREFERENCE_{name}"] = value
    if inputs:
        env["AZUREML_DATASET_ENVIRONMENT_VARS"] = ",".join(f"{n}:{i.mode}" for n, i in inputs.items())
    if spec.outputs:
        env["AZUREML_DATASET_FILE_OUTPUTS"] = ";".join(spec.outputs)
    atomic_write(run_dir / DATASETS_FILE, json.dumps(record, indent=2))
    return PreparedData(substitute(spec, values), env, lineage)


def _local(path: str, workdir: Path) -> Path:
    return Path(path) if os.path.isabs(path) else workdir / path


def _deliver_input(workspace: Workspace, name: str, item: InputSpec, dataset: DatasetSpec, run_dir: Path,
                   workdir: Path) -> tuple[str, dict[str, Any] | None]:
    """The input's value, and for a mount how its read-only copy was made."""
    if item.mode == "direct":
        return dataset_from_spec(dataset, workspace).id, None
    for location in dataset.paths:
        expand(location, workspace)  # raises DataError for a missing path
    fs, path = filesystem(location_url(dataset.paths[0], workspace))
    plain = len(dataset.paths) == 1 and not any(ch in path for ch in "*?[")
    is_file = plain and fs.isfile(path)
    if item.mode == "mount":
        value, view = _mount(workspace, dataset, fs, path, plain, is_file, run_dir / INPUTS_DIR / name)
        if not item.path_on_compute:
            return value, view
        link = _local(item.path_on_compute, workdir)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(value)
        return str(link), view
    target = _local(item.path_on_compute, workdir) if item.path_on_compute else run_dir / INPUTS_DIR / name
    files = copy_dataset(dataset, workspace, target, overwrite=True)
    return (files[0] if is_file and files else str(target)), None


def _mount(workspace: Workspace, dataset: DatasetSpec, fs: Any, path: str, plain: bool, is_file: bool,
           view: Path) -> tuple[str, dict[str, Any]]:
    """A mounted input: the script's own read-only copy in ``view`` (see ``mounts.py``), so
    nothing it does reaches the datastore. Returns the value and how the copy was made."""
    source = path.rstrip("/") or "/"
    try:
        remove_view(view)  # left by an earlier attempt (an agent restarted while preparing)
        if plain and is_local_filesystem(fs):
            stats = read_only_view(source, view / os.path.basename(source) if is_file else view)
        else:  # a remote store or a glob: download, then make read-only
            copy_dataset(dataset, workspace, view, overwrite=True)
            stats = make_read_only(view)
    except OSError as exc:
        raise DataError(f"could not make a read-only copy of {source} in {view}: {exc}") from None
    value = str(view / os.path.basename(source)) if is_file else str(view)
    return value, {"source": source, "files": stats.files, "bytes": stats.bytes, "method": stats.method,
                   "seconds": round(stats.seconds, 3)}


def release_inputs(run_dir: Path) -> None:
    """Delete the run's copies of its inputs (call once the run's processes have ended)."""
    remove_view(run_dir / INPUTS_DIR)


def substitute(spec: JobSpec, values: dict[str, dict[str, str]]) -> JobSpec:
    """``spec`` with ``${{inputs.x}}``/``${{outputs.y}}`` (and v1's whole-argument tokens)
    replaced by their values, and ``--resume-from <path>`` appended for ``resume_from``."""

    def fill(text: str, quote: bool) -> str:
        whole = V1_PLACEHOLDER.match(text)
        if whole:
            kind = "inputs" if whole.group(1).startswith("DatasetC") else "outputs"
            if whole.group(2) in values[kind]:
                return values[kind][whole.group(2)]
        return PLACEHOLDER.sub(lambda m: _q(values[m.group(1)][m.group(2)], quote), text)

    update: dict[str, Any] = {}
    resume = ["--resume-from", values["inputs"][MODEL_LOCATION]] if spec.resume_from is not None else []
    if isinstance(spec.command, str):
        update["command"] = " ".join([fill(spec.command, True), *map(shlex.quote, resume)]).strip()
    elif isinstance(spec.command, list):
        update["command"] = [fill(a, False) for a in spec.command] + resume
    else:
        update["arguments"] = [fill(a, False) if isinstance(a, str) else a for a in spec.arguments] + resume
    return spec.model_copy(update=update)


def _q(value: str, quote: bool) -> str:
    return shlex.quote(value) if quote else value


def deliver_outputs(workspace: Workspace, spec: JobSpec, *, run_id: str, run_dir: Path) -> list[dict[str, Any]]:
    """Copy each output folder to its datastore destination; register it when asked to.
    Returns the outputs' lineage."""
    try:
        record = json.loads((run_dir / DATASETS_FILE).read_text())
    except (OSError, ValueError):
        record = {"outputs": {}}
    lineage = []
    for name, out in spec.outputs.items():
        folder = Path(record["outputs"].get(name, {}).get("value") or run_dir / "data" / "outputs" / name)
        store = Datastore(workspace, out.datastore)
        path = relative_path(out.path.replace("{run-id}", run_id).replace("{output-name}", name),
                             f"outputs.{name}.path")
        files = [p for p in sorted(folder.rglob("*")) if p.is_file()] if folder.is_dir() else []
        if out.mode == "upload" and out.source_globs:
            files = [p for p in files if any(fnmatch.fnmatch(p.relative_to(folder).as_posix(), g)
                                             for g in out.source_globs)]
        fs, root = filesystem(store.full_url(path))
        fs.makedirs(root, exist_ok=True)
        store.upload_files([str(p) for p in files], relative_root=str(folder), target_path=path,
                           overwrite=out.overwrite or out.mode == "mount", show_progress=False)
        entry: dict[str, Any] = {"outputDetails": {"outputName": name, "mechanism": out.mode,
                                                   "datastore": store.name, "path": path,
                                                   "url": store.full_url(path), "files": len(files)},
                                 "dataset": None}
        if out.register_as:
            dataset = FileDatasetFactory.from_files((store, path), validate=False).register(
                workspace, out.register_as, description=out.register_description, create_new_version=True)
            entry["dataset"] = {"id": dataset.id, "name": dataset.name, "version": dataset.version,
                                "fingerprint": dataset.fingerprint, "type": "file",
                                "definition": dataset._spec.model_dump(mode="json")}
        lineage.append(entry)
    return lineage
