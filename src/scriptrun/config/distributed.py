"""v1's distributed-job and docker-runtime configurations.

Mutable attribute objects, as in v1 (code sets ``mpi.process_count_per_node = 4`` after
construction). They are read once, at submission, through ``_to_spec()`` into the matching
frozen spec part; the spec models check the values, so a wrong value set by mutation is still
reported with its field path.
"""

from __future__ import annotations

from typing import Any

from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.job import DockerSpec, MpiSpec, ParallelTaskSpec, PyTorchSpec, TensorflowSpec
from scriptrun.spec.problems import validate_model

SUPPORTED_PYTORCH_BACKENDS = ("nccl", "gloo")


class _Section:
    """Attribute object with a readable repr and value equality (for tests and debugging)."""

    _fields: tuple[str, ...] = ()

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values().items())
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values() == self._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable


class MpiConfiguration(_Section):
    """An MPI job: ``node_count × process_count_per_node`` ranks launched with ``mpirun``."""

    _fields = ("process_count_per_node", "node_count")

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1):
        self.process_count_per_node = process_count_per_node
        self.node_count = node_count

    def _spec_data(self) -> dict[str, Any]:
        return {"type": "mpi", "process_count_per_node": self.process_count_per_node}

    def _to_spec(self) -> MpiSpec:
        return validate_model(MpiSpec, self._spec_data())

    @classmethod
    def _from_spec(cls, spec: MpiSpec, node_count: int = 1) -> MpiConfiguration:
        return cls(process_count_per_node=spec.process_count_per_node, node_count=node_count)


class PyTorchConfiguration(_Section):
    """A PyTorch job: ``process_count`` processes in total ("per-process launch"), or one
    process per node when ``process_count`` is None ("per-node launch")."""

    _fields = ("communication_backend", "process_count", "node_count")

    def __init__(self, communication_backend: str | None = None, process_count: int | None = None,
                 node_count: int = 1):
        # not given: v1's default (Nccl) where it can work, else Gloo, chosen and said at validation
        self.communication_backend = communication_backend or "Nccl"
        self._backend_given = communication_backend is not None
        self.process_count = process_count
        self.node_count = node_count

    @property
    def communication_backend(self) -> str:
        return self._communication_backend

    @communication_backend.setter
    def communication_backend(self, value: str) -> None:
        if not isinstance(value, str) or value.lower() not in SUPPORTED_PYTORCH_BACKENDS:
            raise ConfigError(Problem(
                "communication_backend", f"unsupported PyTorch communication backend {value!r}",
                hint="use 'nccl' (GPUs) or 'gloo' (CPUs); case does not matter"))
        self._communication_backend = value.lower()
        self._backend_given = True

    def _spec_data(self) -> dict[str, Any]:
        return {"type": "pytorch", "communication_backend": self.communication_backend if self._backend_given
                else None, "process_count": self.process_count}

    def _to_spec(self) -> PyTorchSpec:
        return validate_model(PyTorchSpec, self._spec_data())

    @classmethod
    def _from_spec(cls, spec: PyTorchSpec, node_count: int = 1) -> PyTorchConfiguration:
        return cls(spec.communication_backend, spec.process_count, node_count)


class TensorflowConfiguration(_Section):
    """A TensorFlow parameter-server job: one worker per node plus parameter servers.

    ``node_count`` is ``worker_count``, as in v1.
    """

    _fields = ("worker_count", "parameter_server_count")

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1):
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count

    @property
    def node_count(self) -> int:
        return self.worker_count

    def _spec_data(self) -> dict[str, Any]:
        return {"type": "tensorflow", "worker_count": self.worker_count,
                "parameter_server_count": self.parameter_server_count}

    def _to_spec(self) -> TensorflowSpec:
        return validate_model(TensorflowSpec, self._spec_data())

    @classmethod
    def _from_spec(cls, spec: TensorflowSpec, node_count: int = 1) -> TensorflowConfiguration:
        return cls(spec.worker_count, spec.parameter_server_count)


class ParallelTaskConfiguration(_Section):
    """Independent workers (``worker_count_per_node`` per node), each retried up to
    ``max_retries_per_worker`` times unless it exits with one of ``terminal_exit_codes``.

    v1 takes no constructor arguments; we also accept the attributes as keywords.
    """

    _fields = ("max_retries_per_worker", "worker_count_per_node", "terminal_exit_codes", "node_count")

    def __init__(self, *, max_retries_per_worker: int = 0, worker_count_per_node: int = 1,
                 terminal_exit_codes: list[int] | None = None, node_count: int = 1):
        self.max_retries_per_worker = max_retries_per_worker
        self.worker_count_per_node = worker_count_per_node
        self.terminal_exit_codes = terminal_exit_codes
        self.node_count = node_count

    def _spec_data(self) -> dict[str, Any]:
        return {"type": "parallel_task", "max_retries_per_worker": self.max_retries_per_worker,
                "worker_count_per_node": self.worker_count_per_node,
                "terminal_exit_codes": self.terminal_exit_codes}

    def _to_spec(self) -> ParallelTaskSpec:
        return validate_model(ParallelTaskSpec, self._spec_data())

    @classmethod
    def _from_spec(cls, spec: ParallelTaskSpec, node_count: int = 1) -> ParallelTaskConfiguration:
        codes = list(spec.terminal_exit_codes) if spec.terminal_exit_codes is not None else None
        return cls(max_retries_per_worker=spec.max_retries_per_worker,
                   worker_count_per_node=spec.worker_count_per_node, terminal_exit_codes=codes,
                   node_count=node_count)


DISTRIBUTED_CONFIG_CLASSES: tuple[type, ...] = (
    MpiConfiguration, PyTorchConfiguration, TensorflowConfiguration, ParallelTaskConfiguration)

_FROM_SPEC_TYPE: dict[str, type] = {
    "mpi": MpiConfiguration, "pytorch": PyTorchConfiguration,
    "tensorflow": TensorflowConfiguration, "parallel_task": ParallelTaskConfiguration,
}


def distributed_config_from_spec(spec: Any, node_count: int = 1) -> Any:
    """The builder object for a distribution spec part (inverse of ``_to_spec``)."""
    if spec is None:
        return None
    return _FROM_SPEC_TYPE[spec.type]._from_spec(spec, node_count)


class DockerConfiguration(_Section):
    """Container runtime settings of a run (replaces the deprecated ``Environment.docker.enabled``…)."""

    _fields = ("use_docker", "shared_volumes", "arguments", "shm_size")

    def __init__(self, use_docker: bool = False, shared_volumes: bool = True,
                 arguments: list[str] | None = None, shm_size: str = "2g"):
        self.use_docker = use_docker
        self.shared_volumes = shared_volumes
        self.arguments = list(arguments) if arguments is not None else []
        self.shm_size = shm_size

    def _spec_data(self) -> dict[str, Any]:
        return self._values()

    def _to_spec(self) -> DockerSpec:
        return validate_model(DockerSpec, self._spec_data())

    @classmethod
    def _from_spec(cls, spec: DockerSpec) -> DockerConfiguration:
        return cls(spec.use_docker, spec.shared_volumes, list(spec.arguments), spec.shm_size)

    def _is_default(self) -> bool:
        return self == DockerConfiguration()
