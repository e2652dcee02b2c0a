"""v1's ``azureml.core.runconfig`` (re-exported; no logic here)."""

from scriptrun.config import (
    Data,
    DataLocation,
    DockerConfiguration,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
    TensorflowConfiguration,
)
from scriptrun.environment import CondaDependencies
from scriptrun.workspace.azure import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE

__all__ = ["DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE", "CondaDependencies", "Data", "DataLocation",
           "DockerConfiguration", "MpiConfiguration", "ParallelTaskConfiguration", "PyTorchConfiguration",
           "RunConfiguration", "TensorflowConfiguration"]
