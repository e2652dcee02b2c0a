"""A ``ScriptRunConfig``'s data: ``inputs=``, ``outputs=``, ``resume_from=`` and the data
objects placed in ``arguments``/``command``, reduced to the spec's ``inputs``/``outputs``.

Each data object in an argument list is replaced by its placeholder (``${{inputs.name}}``,
``${{outputs.name}}``; a ``DataReference`` keeps v1's ``$AZUREML_DATAREFERENCE_<name>``
form), which the runtime fills in with the local path. Placeholders can also be written by
hand inside any argument string (``"--data=${{inputs.train}}"``), naming an input declared in
``inputs=`` or elsewhere in the arguments.
"""

from __future__ import annotations

from typing import Any

from scriptrun.data.consumption import DatasetConsumptionConfig
from scriptrun.data.datapath import DataPath, DataReference
from scriptrun.data.dataset import AbstractDataset
from scriptrun.data.output import OutputFileDatasetConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.job import DataLocationSpec, InputSpec, OutputSpec

DATA_TYPES = (DatasetConsumptionConfig, DataReference, DataPath, AbstractDataset, OutputFileDatasetConfig)
_INPUT_HINT = ("pass ds.as_named_input('name') (optionally .as_mount()/.as_download()), a DataReference "
               "(datastore.path('folder')), or an OutputFileDatasetConfig in `outputs`")


def check_data_arguments(inputs: Any, outputs: Any, resume_from: Any) -> list[Problem]:
    """The types of the constructor's data keywords."""
    problems = []
    if inputs is not None and not isinstance(inputs, (list, tuple)):
        problems.append(Problem("inputs", f"expected a list of data inputs, got {type(inputs).__name__}",
                                hint=_INPUT_HINT))
    else:
        for i, item in enumerate(inputs or []):
            if not isinstance(item, (DatasetConsumptionConfig, DataReference, DataPath, AbstractDataset)):
                problems.append(Problem(f"inputs[{i}]", f"expected a dataset input, got {item!r}", hint=_INPUT_HINT))
    if outputs is not None and not isinstance(outputs, (list, tuple)):
        problems.append(Problem("outputs", f"expected a list of OutputFileDatasetConfig, got {type(outputs).__name__}"))
    else:
        for i, item in enumerate(outputs or []):
            if not isinstance(item, OutputFileDatasetConfig):
                problems.append(Problem(f"outputs[{i}]", f"expected an OutputFileDatasetConfig, got {item!r}"))
    if resume_from is not None and not isinstance(resume_from, (DataPath, DataLocationSpec)):
        problems.append(Problem("resume_from", f"expected a DataPath, got {type(resume_from).__name__} "
                                f"{resume_from!r}", hint="resume_from=DataPath(datastore, 'checkpoints/run-1')"))
    return problems


def data_fields(data: dict[str, Any], inputs: Any, outputs: Any, resume_from: Any) -> list[Problem]:
    """Fill ``data['inputs']``/``['outputs']``/``['resume_from']`` and replace data objects in
    ``data['arguments']``/``['command']`` by placeholders; return the problems found."""
    collected: dict[str, dict[str, Any]] = {"inputs": {}, "outputs": {}}
    problems: list[Problem] = []

    def add(kind: str, name: str, spec: InputSpec | OutputSpec, where: str) -> None:
        known = collected[kind].get(name)
        if known is not None and known != spec:
            problems.append(Problem(where, f"two different {kind} are named {name!r}",
                                    hint="give each one its own name"))
        collected[kind][name] = spec

    def convert(item: Any, where: str) -> Any:
        try:
            if isinstance(item, AbstractDataset):
                item = item.as_named_input(_auto_input_name(item))
            elif isinstance(item, DataPath):
                item = item.create_data_reference()
            if isinstance(item, DatasetConsumptionConfig):
                add("inputs", item.name, item._input_spec(), where)
                return str(item)
            if isinstance(item, DataReference):
                if item.mode == "upload":
                    return convert(item.as_upload(item.path_on_compute, item.overwrite), where)
                add("inputs", item.data_reference_name, item._input_spec(), where)
                return str(item)
            if isinstance(item, OutputFileDatasetConfig):
                add("outputs", item.name, item._output_spec(), where)
                return str(item)
        except ConfigError as exc:
            problems.extend(exc.problems)
        return item

    for field in ("arguments", "command"):
        value = data.get(field)
        if isinstance(value, list):
            data[field] = [convert(item, f"{field}[{i}]") for i, item in enumerate(value)]
    for i, item in enumerate(inputs or []):
        convert(item, f"inputs[{i}]")
    for i, item in enumerate(outputs or []):
        convert(item, f"outputs[{i}]")
    if collected["inputs"]:
        data["inputs"] = collected["inputs"]
    if collected["outputs"]:
        data["outputs"] = collected["outputs"]
    if isinstance(resume_from, DataPath):
        try:
            data["resume_from"] = resume_from._location()
        except ConfigError as exc:
            problems += [Problem("resume_from", p.message, p.hint) for p in exc.problems]
    elif isinstance(resume_from, DataLocationSpec):
        data["resume_from"] = resume_from
    return problems


def _auto_input_name(dataset: AbstractDataset) -> str:
    import re

    if dataset.name:
        return re.sub(r"\W", "_", dataset.name) if not dataset.name[0].isdigit() else f"input_{dataset.name}"
    return f"input__{dataset.id.rsplit(':', 1)[-1][:8]}"
