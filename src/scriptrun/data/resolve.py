"""Submit-time resolution and checks of a job's data (part of ``prepare_job``).

Registered dataset references (``"name"``, ``"name:version"``) are pinned to the version
they name now, so the spec saved with the run says exactly what it read; every datastore
must exist and every input path must exist. Each problem names its field
(``inputs.train.dataset``, ``outputs.model.datastore``, ``resume_from``).
"""

from __future__ import annotations

from scriptrun.data.dataset import expand
from scriptrun.data.datastore import datastore_url
from scriptrun.data.materialize import resolve_dataset
from scriptrun.errors import DataError, Problem, ScriptrunError, WorkspaceError
from scriptrun.spec.job import DataLocationSpec, JobSpec
from scriptrun.workspace import Workspace


def resolve_data(spec: JobSpec, workspace: Workspace) -> tuple[JobSpec, list[Problem]]:
    """``spec`` with registered datasets pinned, and every data problem found."""
    problems: list[Problem] = []
    inputs = {}
    for name, item in spec.inputs.items():
        try:
            dataset = resolve_dataset(workspace, item.dataset)
        except ScriptrunError as exc:
            problems.append(Problem(f"inputs.{name}.dataset", str(exc),
                                    hint="register it first (dataset.register(ws, name)) or check "
                                         "`scriptrun dataset list`"))
            inputs[name] = item
            continue
        inputs[name] = item.model_copy(update={"dataset": dataset})
        for i, location in enumerate(dataset.paths):
            problems += _check_location(workspace, location, f"inputs.{name}.dataset.paths[{i}]")
    for name, out in spec.outputs.items():
        if out.datastore is not None:
            problems += _check_datastore(workspace, out.datastore, f"outputs.{name}.datastore")
    if spec.resume_from is not None:
        problems += _check_location(workspace, spec.resume_from, "resume_from")
    return spec.model_copy(update={"inputs": inputs}), problems


def _check_datastore(workspace: Workspace, name: str, field: str) -> list[Problem]:
    try:
        datastore_url(workspace, name)
    except WorkspaceError as exc:
        return [Problem(field, str(exc))]
    return []


def _check_location(workspace: Workspace, location: DataLocationSpec, field: str) -> list[Problem]:
    if location.datastore is not None:
        problems = _check_datastore(workspace, location.datastore, f"{field}.datastore")
        if problems:
            return problems
    try:
        expand(location, workspace)
    except DataError as exc:
        return [Problem(field, f"missing data: {exc}",
                        hint="upload the data first (Datastore.upload / Dataset.File.upload_directory) "
                             "or fix the path")]
    return []
