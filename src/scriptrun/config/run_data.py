"""v1's ``RunConfiguration.data`` section: ``Data`` and ``DataLocation``.

v1 code declared dataset inputs on the run configuration::

    src.run_config.data = {"cifar10": Data(data_location=DataLocation(dataset=dataset),
                                           mechanism="direct", environment_variable_name="cifar10")}

Each entry is the same input as ``dataset.as_named_input(<environment_variable_name>)`` in the
``mechanism``'s mode, and reduces to the same spec. Prefer ``inputs=[...]`` on
``ScriptRunConfig``; this section keeps v1 code working.
"""

from __future__ import annotations

from typing import Any

from scriptrun.data.consumption import DatasetConsumptionConfig
from scriptrun.data.dataset import AbstractDataset
from scriptrun.errors import ConfigError, Problem

MECHANISMS = ("direct", "mount", "download")


class DataLocation:
    """Where a ``Data`` input comes from: a dataset (v1 also allowed a datapath or a uri)."""

    def __init__(self, dataset: Any = None, datapath: Any = None, uri: Any = None):
        self.dataset = dataset
        self.datapath = datapath
        self.uri = uri


class Data:
    """One entry of ``RunConfiguration.data``: a dataset input and how it is delivered."""

    def __init__(self, data_location: DataLocation | None = None, create_output_directories: bool | None = None,
                 mechanism: str = "direct", environment_variable_name: str | None = None,
                 path_on_compute: str | None = None, overwrite: bool = False, options: dict[str, Any] | None = None):
        self.data_location = data_location
        self.create_output_directories = create_output_directories
        self.mechanism = mechanism
        self.environment_variable_name = environment_variable_name
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
        self.options = options


def inputs_from_run_config_data(section: Any) -> tuple[list[Any], list[Problem]]:
    """The ``DatasetConsumptionConfig`` of each entry of ``run_config.data`` — a dict of
    ``Data`` by name (a single ``Data`` is accepted too), or the mappings a v1 ``.runconfig``
    file holds (``dataLocation.dataset.name``/``version``, ``mechanism``, …) — and the problems."""
    if not section:
        return [], []
    entries = {None: section}.items() if isinstance(section, Data) else dict(section).items()
    inputs, problems = [], []
    for key, entry in entries:
        path = "run_config.data" + (f".{key}" if key is not None else "")
        if isinstance(entry, dict):  # as read from a .runconfig file
            entry = _data_from_mapping(entry)
        if not isinstance(entry, Data):
            problems.append(Problem(path, f"expected a Data entry, got {type(entry).__name__}",
                                    hint="Data(data_location=DataLocation(dataset=ds), mechanism='direct'), or "
                                         "better: ScriptRunConfig(inputs=[ds.as_named_input('name')])"))
            continue
        dataset = entry.data_location.dataset if entry.data_location is not None else None
        if not isinstance(dataset, (AbstractDataset, str)):
            problems.append(Problem(f"{path}.data_location", "a Data entry needs DataLocation(dataset=<a dataset>)",
                                    hint="for a datastore folder use ScriptRunConfig(inputs=[datastore.path(...)])"))
            continue
        name = entry.environment_variable_name or key
        if name is None:
            problems.append(Problem(f"{path}.environment_variable_name", "the input needs a name",
                                    hint="set environment_variable_name='cifar10' (it names the input)"))
            continue
        mechanism = entry.mechanism.lower() if isinstance(entry.mechanism, str) else entry.mechanism
        if mechanism not in MECHANISMS:
            problems.append(Problem(f"{path}.mechanism", f"unknown mechanism {entry.mechanism!r}",
                                    hint="use direct, mount or download"))
            continue
        try:
            inputs.append(DatasetConsumptionConfig(name, dataset, mechanism, entry.path_on_compute))
        except ConfigError as exc:
            problems += [Problem(path, p.message, p.hint) for p in exc.problems]
    return inputs, problems


def _data_from_mapping(raw: dict[str, Any]) -> Data | dict[str, Any]:
    """A ``.runconfig`` data entry (camelCase or snake_case keys) as a ``Data`` naming a
    registered dataset (``name`` or ``name:version``); unrecognised shapes are returned as is."""
    get = lambda m, *keys: next((m[k] for k in keys if isinstance(m, dict) and k in m), None)  # noqa: E731
    dataset = get(get(raw, "dataLocation", "data_location") or {}, "dataset") or {}
    name, version = get(dataset, "name"), get(dataset, "version")
    if not isinstance(name, str):
        return raw
    reference = name if version in (None, "", "latest") else f"{name}:{version}"
    return Data(DataLocation(dataset=reference), mechanism=get(raw, "mechanism") or "direct",
                environment_variable_name=get(raw, "environmentVariableName", "environment_variable_name"),
                path_on_compute=get(raw, "pathOnCompute", "path_on_compute"))
