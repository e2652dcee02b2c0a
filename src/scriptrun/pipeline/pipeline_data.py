"""``PipelineData``: v1's intermediate data between steps (§7.4), kept for v1 code.

The producing step lists it in ``outputs`` (and usually in ``arguments``): it becomes an
output folder of that step, copied to its datastore when the step completes — exactly an
``OutputFileDatasetConfig``. A consuming step lists it (or ``.as_input(name)``,
``.as_mount()``, ``.as_download()``) in ``inputs``: it is mounted or downloaded there from
where the producer's run (or the earlier run it reused) put it. New code can use
``OutputFileDatasetConfig(...)`` and ``.as_input(name)`` instead.
"""

from __future__ import annotations

import re
from typing import Any

from scriptrun.data.datastore import Datastore, name_of_datastore
from scriptrun.data.output import OutputConsumptionConfig, OutputFileDatasetConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.job import DEFAULT_OUTPUT_PATH, IDENTIFIER

_WORD = re.compile(r"^\w+$")
OUTPUT_MODES = ("mount", "upload")


def _check_name(value: Any, field: str) -> None:
    if not isinstance(value, str) or not _WORD.match(value):
        example = re.sub(r"\W", "_", str(value)) or "prepped"
        raise ConfigError(Problem(f"PipelineData.{field}", f"{value!r} is not a valid name: use letters, digits "
                                  "and '_' only", hint=f"e.g. {example!r}"))
    if not IDENTIFIER.match(value):
        raise ConfigError(Problem(f"PipelineData.{field}", f"{value!r} starts with a digit: it becomes an "
                                  "environment variable name", hint=f"e.g. 'data_{value}'"))


class PipelineData:
    """Data written by one step and read by later ones, named ``name`` (``\\w+``)."""

    def __init__(self, name: str, datastore: Datastore | str | None = None, output_name: str | None = None,
                 output_mode: str = "mount", output_path_on_compute: str | None = None,
                 output_overwrite: bool | None = None, data_type: str | None = None,
                 is_directory: bool | None = None, pipeline_output_name: str | None = None,
                 training_output: Any = None):
        _check_name(name, "name")
        if output_name is not None:
            _check_name(output_name, "output_name")
        if output_mode not in OUTPUT_MODES:
            raise ConfigError(Problem("PipelineData.output_mode", f"unknown output mode {output_mode!r}",
                                      hint="use 'mount' or 'upload'"))
        if datastore is not None and not isinstance(datastore, (Datastore, str)):
            raise ConfigError(Problem("PipelineData.datastore", f"expected a Datastore or its name, got {datastore!r}"))
        if training_output is not None:
            raise ConfigError(Problem("PipelineData.training_output", "TrainingOutput (AutoML/HyperDrive step "
                                      "outputs) is not supported", hint="leave training_output out"))
        self.name = name
        self.datastore = datastore
        self.datastore_name = name_of_datastore(datastore)
        self.output_name = output_name or name
        self.output_mode = output_mode
        self.output_path_on_compute = output_path_on_compute
        self.output_overwrite = output_overwrite
        self.data_type = data_type or "AnyDirectory"
        self.is_directory = is_directory
        self.pipeline_output_name = pipeline_output_name
        self._register_as: str | None = None
        self._output_config: OutputFileDatasetConfig | None = None

    # -- the consumer side ------------------------------------------------------------------

    def as_input(self, input_name: str) -> OutputConsumptionConfig:
        return OutputConsumptionConfig(input_name, self, "mount")

    def as_mount(self, input_name: str | None = None) -> OutputConsumptionConfig:
        return OutputConsumptionConfig(input_name or self.name, self, "mount")

    def as_download(self, input_name: str | None = None, path_on_compute: str | None = None,
                    overwrite: bool | None = None) -> OutputConsumptionConfig:
        return OutputConsumptionConfig(input_name or self.name, self, "download", path_on_compute)

    def create_input_binding(self, input_name: str | None = None, mode: str | None = None,
                             path_on_compute: str | None = None, overwrite: bool | None = None
                             ) -> OutputConsumptionConfig:
        return OutputConsumptionConfig(input_name or self.name, self, mode or "mount", path_on_compute)

    def as_dataset(self) -> PipelineOutputFileDataset:
        return PipelineOutputFileDataset(self)

    # -- the producer side --------------------------------------------------------------------

    def _output(self) -> OutputFileDatasetConfig:
        """The producing step's output (one object per PipelineData, so a step sees it once)."""
        if self._output_config is None:
            destination = (self.datastore_name, DEFAULT_OUTPUT_PATH) if self.datastore_name else None
            out = OutputFileDatasetConfig(self.output_name, destination, source=self.output_path_on_compute)
            if self.output_mode == "upload":
                out = out.as_upload(overwrite=bool(self.output_overwrite))
            if self._register_as:
                out = out.register_on_complete(self._register_as)
            self._output_config = out
        return self._output_config

    def get_env_variable_name(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.name}"

    def __str__(self) -> str:
        return self.get_env_variable_name()

    def __repr__(self) -> str:
        return (f"PipelineData(name={self.name!r}, datastore={self.datastore_name!r}, "
                f"output_mode={self.output_mode!r})")


class PipelineOutputFileDataset:
    """``PipelineData.as_dataset()``: the producer's output seen as a file dataset by consumers."""

    def __init__(self, data: PipelineData):
        self.data = data

    def as_named_input(self, name: str) -> OutputConsumptionConfig:
        """Input ``name`` (mounted: a step output is files, its local path is what a script reads)."""
        return OutputConsumptionConfig(name, self.data, "mount")

    def as_mount(self, path_on_compute: str | None = None) -> OutputConsumptionConfig:
        return OutputConsumptionConfig(self.data.name, self.data, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> OutputConsumptionConfig:
        return OutputConsumptionConfig(self.data.name, self.data, "download", path_on_compute)

    def register(self, name: str, create_new_version: bool = True) -> PipelineOutputFileDataset:
        """Register the output as a new version of dataset ``name`` when the producer completes."""
        self.data._register_as = name
        self.data._output_config = None
        return self

    def __repr__(self) -> str:
        return f"PipelineOutputFileDataset({self.data!r})"
