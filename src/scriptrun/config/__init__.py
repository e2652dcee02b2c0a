"""v1-compatible job builders: ``ScriptRunConfig``, ``RunConfiguration`` and the distributed
and docker configurations. Each is read once, at submission, into a ``JobSpec``."""

from scriptrun.config.batch import ChildBatch
from scriptrun.config.distributed import (
    DockerConfiguration,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    TensorflowConfiguration,
)
from scriptrun.config.prepare import prepare_job
from scriptrun.config.run_data import Data, DataLocation
from scriptrun.config.runconfig import RunConfiguration
from scriptrun.config.script_run_config import ScriptRunConfig

__all__ = [
    "ChildBatch",
    "Data",
    "DataLocation",
    "DockerConfiguration",
    "MpiConfiguration",
    "ParallelTaskConfiguration",
    "PyTorchConfiguration",
    "RunConfiguration",
    "ScriptRunConfig",
    "TensorflowConfiguration",
    "prepare_job",
]
