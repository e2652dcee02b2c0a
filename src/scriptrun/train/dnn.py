"""v1's ``azureml.train.dnn`` (re-exported; no logic here)."""

from scriptrun.config.estimator import Chainer, PyTorch, TensorFlow
from scriptrun.config.legacy_distributed import Gloo, Mpi, Nccl, ParameterServer

__all__ = ["Chainer", "Gloo", "Mpi", "Nccl", "ParameterServer", "PyTorch", "TensorFlow"]
