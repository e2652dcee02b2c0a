"""v1's estimator-era distributed classes: ``Mpi``, ``Gloo``, ``Nccl``, ``ParameterServer``.

v1 code passes them as an estimator's ``distributed_training=`` (and scriptrun also accepts
them as ``ScriptRunConfig(distributed_training=...)``). They hold only their v1 fields;
:func:`distributed_config` turns one into the distributed configuration it stands for
(``MpiConfiguration``, ``PyTorchConfiguration``, ``TensorflowConfiguration``), which is
what every job carries.
"""

from __future__ import annotations

from typing import Any

from scriptrun.config.distributed import (
    DISTRIBUTED_CONFIG_CLASSES,
    MpiConfiguration,
    PyTorchConfiguration,
    TensorflowConfiguration,
)
from scriptrun.errors import ConfigError, Problem


class _LegacyDistributed:
    """Base of the v1 estimator-era classes (value equality, readable repr)."""

    _fields: tuple[str, ...] = ()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields)
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, k) == getattr(other, k) for k in self._fields)

    __hash__ = None  # type: ignore[assignment]


class Mpi(_LegacyDistributed):
    """v1's ``Mpi``: ``process_count_per_node`` MPI ranks per node → ``MpiConfiguration``."""

    _fields = ("process_count_per_node",)

    def __init__(self, process_count_per_node: int = 1):
        self.process_count_per_node = process_count_per_node


class ParameterServer(_LegacyDistributed):
    """v1's ``ParameterServer`` (TensorFlow) → ``TensorflowConfiguration``."""

    _fields = ("worker_count", "parameter_server_count")

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1):
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count


class Gloo(_LegacyDistributed):
    """v1's ``Gloo`` (PyTorch on CPUs) → ``PyTorchConfiguration(communication_backend="Gloo")``."""


class Nccl(_LegacyDistributed):
    """v1's ``Nccl`` (PyTorch on GPUs) → ``PyTorchConfiguration(communication_backend="Nccl")``."""


LEGACY_DISTRIBUTED_CLASSES: tuple[type, ...] = (Mpi, ParameterServer, Gloo, Nccl)


def distributed_config(value: Any, *, node_count: int = 1, process_count_per_node: int = 1) -> Any:
    """The distributed configuration a legacy object (or a configuration itself) stands for.

    ``Gloo``/``Nccl`` start ``node_count × process_count_per_node`` processes with the
    PyTorch rank variables (``RANK``, ``WORLD_SIZE``…), as a per-process launch.
    """
    if value is None or isinstance(value, DISTRIBUTED_CONFIG_CLASSES):
        return value
    if isinstance(value, Mpi):
        return MpiConfiguration(process_count_per_node=value.process_count_per_node, node_count=node_count)
    if isinstance(value, ParameterServer):
        return TensorflowConfiguration(worker_count=value.worker_count,
                                       parameter_server_count=value.parameter_server_count)
    if isinstance(value, (Gloo, Nccl)):
        return PyTorchConfiguration(communication_backend=type(value).__name__,
                                    process_count=node_count * process_count_per_node, node_count=node_count)
    raise ConfigError(Problem("distributed_training", f"expected a distributed configuration, got {value!r}",
                              hint="use MpiConfiguration, PyTorchConfiguration or TensorflowConfiguration "
                                   "(or v1's Mpi, Gloo, Nccl, ParameterServer)"))
