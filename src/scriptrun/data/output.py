"""``OutputFileDatasetConfig``: a folder the job writes, copied to a datastore when the run
completes (v1 §10.4), optionally registered as a new dataset version.

Delivered like an input: in ``arguments``/``command`` it becomes the local folder to write
to, the environment variable ``<name>`` holds it, and ``Run.get_context().output_datasets[name]``
returns it. Nothing is uploaded when the run fails or is canceled. Locally, ``mount`` and
``upload`` modes behave the same (the script writes to a local folder that is copied at the
end); ``as_upload`` also takes ``overwrite`` and ``source_globs``.
"""

from __future__ import annotations

import uuid
from typing import Any

from scriptrun.data.consumption import DatasetConsumptionConfig, check_name
from scriptrun.data.datastore import Datastore, name_of_datastore, relative_path
from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.job import DEFAULT_OUTPUT_PATH, DatasetSpec, OutputSpec


class OutputFileDatasetConfig:
    """Output ``name``: written by the job, copied to ``destination=(datastore, "path")``
    (``{run-id}`` and ``{output-name}`` are filled in) when the run completes."""

    def __init__(self, name: str | None = None, destination: Any = None, source: str | None = None,
                 partition_format: str | None = None):
        self.name = check_name(name if name is not None else f"output_{uuid.uuid4().hex[:8]}", "outputs")
        if destination is None:
            store, path = None, DEFAULT_OUTPUT_PATH
        elif isinstance(destination, tuple) and len(destination) == 2:
            store, path = destination
        else:
            raise ConfigError(Problem(f"outputs.{self.name}.destination",
                                      f"expected (datastore, 'path'), got {destination!r}",
                                      hint="OutputFileDatasetConfig('model', destination=(ws_default_store, "
                                           "'models/{run-id}'))"))
        if store is not None and not isinstance(store, (Datastore, str)):
            raise ConfigError(Problem(f"outputs.{self.name}.destination", f"expected a Datastore, got {store!r}"))
        self.datastore = name_of_datastore(store)
        self.path = relative_path(path, f"outputs.{self.name}.destination") or ""
        self.source = source
        self.mode = "mount"
        self.overwrite = False
        self.source_globs: list[str] = []
        self.register_as: str | None = None
        self.register_description: str | None = None

    def _copy(self, **changes: Any) -> OutputFileDatasetConfig:
        out = OutputFileDatasetConfig.__new__(OutputFileDatasetConfig)
        out.__dict__.update({**self.__dict__, **changes})
        return out

    def as_mount(self, disable_metadata_cache: bool = False) -> OutputFileDatasetConfig:
        return self._copy(mode="mount", overwrite=False, source_globs=[])

    def as_upload(self, overwrite: bool = False, source_globs: list[str] | None = None) -> OutputFileDatasetConfig:
        return self._copy(mode="upload", overwrite=overwrite, source_globs=list(source_globs or []))

    def register_on_complete(self, name: str, description: str | None = None,
                             tags: dict[str, str] | None = None) -> OutputFileDatasetConfig:
        """Register the uploaded folder as a new version of dataset ``name`` once the run completes."""
        return self._copy(register_as=name, register_description=description)

    def as_input(self, name: str | None = None) -> OutputConsumptionConfig:
        """This output consumed by a later pipeline step (mounted), as input ``name`` (default: the
        output's name)."""
        return OutputConsumptionConfig(name if name is not None else self.name, self)

    def _output_spec(self) -> OutputSpec:
        return OutputSpec(mode=self.mode, datastore=self.datastore, path=self.path or DEFAULT_OUTPUT_PATH,
                          source=self.source, overwrite=self.overwrite, source_globs=self.source_globs,
                          register_as=self.register_as, register_description=self.register_description)

    @classmethod
    def _from_spec(cls, name: str, spec: OutputSpec) -> OutputFileDatasetConfig:
        """From a validated spec, unchecked: the spec's own rules report its problems, with lines."""
        out = cls.__new__(cls)
        out.__dict__.update(name=name, datastore=spec.datastore, path=spec.path, source=spec.source,
                            mode=spec.mode, overwrite=spec.overwrite, source_globs=list(spec.source_globs),
                            register_as=spec.register_as, register_description=spec.register_description)
        return out

    def __str__(self) -> str:
        return "${{outputs." + self.name + "}}"

    def __repr__(self) -> str:
        return (f"OutputFileDatasetConfig(name={self.name!r}, destination=({self.datastore!r}, {self.path!r}), "
                f"mode={self.mode!r})")


class OutputConsumptionConfig(DatasetConsumptionConfig):
    """An earlier pipeline step's output consumed as input ``name`` of a later step. Where the
    data is becomes known only when the producer has finished, so the spec's dataset is empty
    until the pipeline fills it in; ``producer`` is the output object (``OutputFileDatasetConfig``
    or ``PipelineData``)."""

    def __init__(self, name: str, producer: Any, mode: str = "mount", path_on_compute: str | None = None):
        if mode not in ("mount", "download"):
            raise ConfigError(Problem(f"inputs.{name}.mode", f"a step output is consumed in mount or download "
                                      f"mode, not {mode!r}", hint="use .as_mount() or .as_download()"))
        self.name = check_name(name)
        self.producer = producer
        self.dataset = DatasetSpec(type="file")
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_mount(self, path_on_compute: str | None = None) -> OutputConsumptionConfig:
        return OutputConsumptionConfig(self.name, self.producer, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> OutputConsumptionConfig:
        return OutputConsumptionConfig(self.name, self.producer, "download", path_on_compute)

    def __repr__(self) -> str:
        return f"OutputConsumptionConfig(name={self.name!r}, mode={self.mode!r}, producer={self.producer!r})"
