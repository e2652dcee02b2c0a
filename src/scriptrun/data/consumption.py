"""``DatasetConsumptionConfig``: how a job consumes a dataset, under which input name (v1 §10.3).

Made by ``dataset.as_named_input(name)`` (direct), ``.as_mount()`` / ``.as_download()``.
Put it in ``arguments`` (or ``command``, or ``inputs=``) and, before the script starts, it is
delivered three ways: the argument becomes the local path (direct mode: the dataset id), the
environment variable ``<name>`` holds the same value, and
``Run.get_context().input_datasets[name]`` returns it (direct mode: the dataset object).

``str(config)`` is the placeholder ``${{inputs.<name>}}``, so it can sit inside a larger
argument: ``f"--data={ds.as_named_input('train').as_mount()}"`` — which v1 could not do.
"""

from __future__ import annotations

import re
from typing import Any

from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.job import IDENTIFIER, DatasetSpec, InputSpec

MODES = ("direct", "mount", "download")


def check_name(name: Any, kind: str = "inputs") -> str:
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise ConfigError(Problem(f"{kind}.{name}", f"{name!r} is not a valid {kind[:-1]} name: it becomes an "
                                  "environment variable and a `${{" + kind + ".NAME}}` placeholder",
                                  hint="use letters, digits and '_', not starting with a digit, e.g. "
                                       f"{_identifier(str(name))!r}"))
    return name


def _identifier(name: str) -> str:
    fixed = re.sub(r"\W", "_", name)
    return fixed if fixed and not fixed[0].isdigit() else f"_{fixed}"


class DatasetConsumptionConfig:
    """Input ``name`` of a job: ``dataset`` consumed in ``mode`` at ``path_on_compute``."""

    def __init__(self, name: str, dataset: Any, mode: str = "direct", path_on_compute: str | None = None):
        # local: dataset.py builds these configs (as_named_input, as_mount, ...) and imports this module
        from scriptrun.data.dataset import AbstractDataset

        self.name = check_name(name)
        if isinstance(dataset, tuple) and len(dataset) in (2, 3):  # (workspace, name[, version])
            dataset = AbstractDataset.get_by_name(dataset[0], dataset[1], dataset[2] if len(dataset) == 3
                                                  else "latest")
        if not isinstance(dataset, (AbstractDataset, DatasetSpec, str)):
            raise ConfigError(Problem(f"inputs.{name}", f"expected a dataset, got {type(dataset).__name__}"))
        mode = mode.lower() if isinstance(mode, str) else mode
        if mode not in MODES:
            raise ConfigError(Problem(f"inputs.{name}.mode", f"unknown mode {mode!r}",
                                      hint="use direct, mount or download"))
        if mode != "direct" and _is_tabular(dataset):
            raise ConfigError(Problem(f"inputs.{name}.mode", f"a tabular dataset cannot be consumed in {mode!r} "
                                      "mode", hint="use as_named_input(name) (direct mode) and read it with "
                                      "Run.get_context().input_datasets[name].to_pandas_dataframe()"))
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    def _input_spec(self) -> InputSpec:
        from scriptrun.data.dataset import AbstractDataset

        dataset = self.dataset
        if isinstance(dataset, AbstractDataset):
            dataset = dataset.id if dataset.name is not None else dataset._spec
        return InputSpec(dataset=dataset, mode=self.mode, path_on_compute=self.path_on_compute)

    @classmethod
    def _from_spec(cls, name: str, spec: InputSpec) -> DatasetConsumptionConfig:
        """From a validated spec, unchecked: the spec's own rules report its problems, with lines."""
        config = cls.__new__(cls)
        config.name, config.dataset, config.mode, config.path_on_compute = (name, spec.dataset, spec.mode,
                                                                            spec.path_on_compute)
        return config

    def __str__(self) -> str:
        return "${{inputs." + self.name + "}}"

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r}, dataset={self.dataset!r})"


def _is_tabular(dataset: Any) -> bool:
    from scriptrun.data.dataset import TabularDataset

    return isinstance(dataset, TabularDataset) or (isinstance(dataset, DatasetSpec) and dataset.type == "tabular")
