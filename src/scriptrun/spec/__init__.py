"""The canonical job specification, its YAML form and its validation rules.

The names below are imported from :mod:`scriptrun.spec.job` on first use, so that importing a
light module of this package (``spec.problems``, ``spec.yamlio``'s helpers) does not define
every spec model.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from scriptrun.spec.job import (
        LOCAL_TARGET,
        MAX_DURATION_SECONDS_DEFAULT,
        SCHEMA_VERSION,
        CondaSpec,
        DataLocationSpec,
        DatasetSpec,
        DistributionSpec,
        DockerImageSpec,
        DockerSpec,
        EnvironmentSpec,
        InputSpec,
        JobSpec,
        MpiSpec,
        OutputSpec,
        ParallelTaskSpec,
        PythonSpec,
        PyTorchSpec,
        SpecModel,
        TensorflowSpec,
    )

__all__ = [
    "LOCAL_TARGET",
    "MAX_DURATION_SECONDS_DEFAULT",
    "SCHEMA_VERSION",
    "CondaSpec",
    "DataLocationSpec",
    "DatasetSpec",
    "DistributionSpec",
    "DockerImageSpec",
    "DockerSpec",
    "EnvironmentSpec",
    "InputSpec",
    "JobSpec",
    "MpiSpec",
    "OutputSpec",
    "ParallelTaskSpec",
    "PyTorchSpec",
    "PythonSpec",
    "SpecModel",
    "TensorflowSpec",
]


def __getattr__(name: str) -> _typing.Any:
    if name not in __all__:
        raise AttributeError(f"module 'scriptrun.spec' has no attribute {name!r}")
    value = getattr(_importlib.import_module("scriptrun.spec.job"), name)
    globals()[name] = value
    return value
