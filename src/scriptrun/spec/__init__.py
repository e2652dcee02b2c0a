"""The canonical job specification, its YAML form and its validation rules."""

from scriptrun.spec.job import (
    LOCAL_TARGET,
    MAX_DURATION_SECONDS_DEFAULT,
    SCHEMA_VERSION,
    CondaSpec,
    DistributionSpec,
    DockerImageSpec,
    DockerSpec,
    EnvironmentSpec,
    JobSpec,
    MpiSpec,
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
    "DistributionSpec",
    "DockerImageSpec",
    "DockerSpec",
    "EnvironmentSpec",
    "JobSpec",
    "MpiSpec",
    "ParallelTaskSpec",
    "PyTorchSpec",
    "PythonSpec",
    "SpecModel",
    "TensorflowSpec",
]
