"""``DataPath`` and ``DataReference``: a path on a datastore, and how a job consumes it (v1 §10.5).

A ``DataReference`` placed in a job's ``arguments`` (or ``inputs``) becomes an input of the
job: mounted (locally: the datastore folder itself when it is on this machine, else a cached
copy) or downloaded before the script starts. ``str(ref)`` is v1's
``$AZUREML_DATAREFERENCE_<name>``, which the runtime expands to the local path.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from scriptrun.data.datastore import Datastore, relative_path
from scriptrun.data.output import OutputFileDatasetConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.job import DataLocationSpec, DatasetSpec, InputSpec

_MODES = ("mount", "download", "upload")


def _identifier(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    return name if name and not name[0].isdigit() else f"ref_{name}"


class DataPath:
    """``path_on_datastore`` on ``datastore`` (v1's ``DataPath``, used for ``resume_from``)."""

    def __init__(self, datastore: Datastore | None = None, path_on_datastore: str | None = None,
                 name: str | None = None):
        if datastore is not None and not isinstance(datastore, Datastore):
            raise ConfigError(Problem("datastore", f"expected a Datastore, got {datastore!r}"))
        self.datastore = datastore
        self.path_on_datastore = relative_path(path_on_datastore)
        self.name = name

    def create_data_reference(self, data_reference_name: str | None = None,
                              datapath_compute_binding: DataPathComputeBinding | None = None) -> DataReference:
        binding = datapath_compute_binding or DataPathComputeBinding()
        return DataReference(self._datastore(), data_reference_name=data_reference_name,
                             path_on_datastore=self.path_on_datastore, mode=binding.mode,
                             path_on_compute=binding.path_on_compute, overwrite=binding.overwrite)

    def _datastore(self) -> Datastore:
        if self.datastore is None:
            raise ConfigError(Problem("datastore", "this DataPath has no datastore",
                                      hint="DataPath(datastore=Datastore.get_default(ws), path_on_datastore=...)"))
        return self.datastore

    def _location(self) -> DataLocationSpec:
        return DataLocationSpec(datastore=self._datastore().name, path=self.path_on_datastore)

    def __repr__(self) -> str:
        store = self.datastore.name if self.datastore else None
        return f"DataPath(datastore={store!r}, path_on_datastore={self.path_on_datastore!r})"


class DataPathComputeBinding:
    """How a ``DataPath`` reaches the job: ``mode`` (mount/download) and ``path_on_compute``."""

    def __init__(self, mode: str = "mount", path_on_compute: str | None = None, overwrite: bool = False):
        self.mode, self.path_on_compute, self.overwrite = mode, path_on_compute, overwrite


class DataReference:
    """A datastore path consumed by a job in ``mode`` ``mount`` or ``download``."""

    def __init__(self, datastore: Datastore, data_reference_name: str | None = None,
                 path_on_datastore: str | None = None, mode: str = "mount",
                 path_on_compute: str | None = None, overwrite: bool = False):
        if not isinstance(datastore, Datastore):
            raise ConfigError(Problem("datastore", f"expected a Datastore, got {datastore!r}"))
        mode = mode.lower() if isinstance(mode, str) else mode
        if mode not in _MODES:
            raise ConfigError(Problem("mode", f"unknown data reference mode {mode!r}", hint="use mount or download"))
        self.datastore = datastore
        self.path_on_datastore = relative_path(path_on_datastore)
        if data_reference_name is None:
            data_reference_name = (f"ref_{uuid.uuid4().hex[:8]}" if self.path_on_datastore
                                   else _identifier(datastore.name))
        self.data_reference_name = data_reference_name
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        joined = "/".join(p for p in (self.path_on_datastore, path or "") if p)
        return DataReference(self.datastore, data_reference_name, joined, self.mode, self.path_on_compute)

    def as_mount(self) -> DataReference:
        return DataReference(self.datastore, self.data_reference_name, self.path_on_datastore, "mount",
                             self.path_on_compute)

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return DataReference(self.datastore, self.data_reference_name, self.path_on_datastore, "download",
                             path_on_compute or self.path_on_compute, overwrite)

    def as_upload(self, path_on_compute: str | None = None, overwrite: bool = False) -> Any:
        """An output written by the job and uploaded to this path when it completes."""
        out = OutputFileDatasetConfig(self.data_reference_name, (self.datastore, self.path_on_datastore),
                                      source=path_on_compute)
        return out.as_upload(overwrite=overwrite)

    def _input_spec(self) -> InputSpec:
        if self.mode == "upload":
            raise ConfigError(Problem(f"inputs.{self.data_reference_name}",
                                      "an upload-mode data reference is an output, not an input",
                                      hint="pass OutputFileDatasetConfig(...) in `arguments` or `outputs`"))
        dataset = DatasetSpec(type="file", paths=[DataLocationSpec(datastore=self.datastore.name,
                                                                   path=self.path_on_datastore)])
        return InputSpec(dataset=dataset, mode=self.mode, path_on_compute=self.path_on_compute)

    @property
    def name(self) -> str:
        return self.data_reference_name

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    def __repr__(self) -> str:
        return (f"DataReference(datastore={self.datastore.name!r}, name={self.data_reference_name!r}, "
                f"path_on_datastore={self.path_on_datastore!r}, mode={self.mode!r})")
