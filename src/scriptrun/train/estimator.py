"""v1's ``azureml.train.estimator`` (re-exported; no logic here). Estimators are deprecated:
each builds the equivalent ``ScriptRunConfig`` and prints its code."""

from scriptrun.config.estimator import Estimator
from scriptrun.config.legacy_distributed import Gloo, Mpi, Nccl, ParameterServer

__all__ = ["Estimator", "Gloo", "Mpi", "Nccl", "ParameterServer"]
