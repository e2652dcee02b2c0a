"""v1's ``RunConfiguration``: the mutable bag of run settings behind a ``ScriptRunConfig``.

Kept so that v1 code keeps working (``src.run_config.node_count = 2``); new code never needs
it. It is read once, at submission, by :meth:`RunConfiguration._spec_data` into the fields of
a :class:`~scriptrun.spec.job.JobSpec`. The ``.runconfig`` file format lives in
``runconfig_file.py``.
"""

from __future__ import annotations

import copy
import os
import shlex
import warnings
from types import SimpleNamespace
from typing import Any

from scriptrun.config.distributed import (
    DockerConfiguration,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    TensorflowConfiguration,
)
from scriptrun.config.runconfig_file import load_runconfig, save_runconfig
from scriptrun.environment.conda import CondaDependencies
from scriptrun.environment.environment import DEFAULT_ENVIRONMENT_NAME, Environment, environment_spec_data
from scriptrun.errors import Problem
from scriptrun.spec.job import LOCAL_TARGET, MAX_DURATION_SECONDS_DEFAULT
from scriptrun.spec.problems import did_you_mean

FRAMEWORKS = ("Python", "PySpark", "CNTK", "TensorFlow", "PyTorch")
SUPPORTED_FRAMEWORKS = ("python", "tensorflow", "pytorch")
# communicator (lower-cased) → the section it activates; v1 spells MPI three ways.
COMMUNICATORS = {
    "none": None, "mpi": "mpi", "intelmpi": "mpi", "openmpi": "mpi",
    "nccl": "pytorch", "gloo": "pytorch", "parameterserver": "tensorflow", "paralleltask": "paralleltask",
}
_COMMUNICATOR_NAMES = ("None", "Mpi", "IntelMpi", "OpenMpi", "Nccl", "Gloo", "ParameterServer", "ParallelTask")
_DATA_FIELDS = ("data_references", "output_data", "datacaches")  # `data` is read by ScriptRunConfig


def name_of(value: Any) -> Any:
    """A compute target / datastore given as an object (anything with ``.name``) → its name."""
    if value is None or isinstance(value, str):
        return value
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else value


def argument_list(value: Any) -> Any:
    """v1 accepts ``arguments`` as a string; split it like a shell would."""
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, tuple):
        return list(value)
    return copy.deepcopy(value) if isinstance(value, list) else value


class RunConfiguration:
    """All settings of a run, with v1's attribute names and defaults (§3.2 of the v1 notes).

    Deprecated in docs: pass the same settings to ``ScriptRunConfig`` instead.
    """

    def __init__(self, script: str | None = None, arguments: list[Any] | str | None = None,
                 framework: str | None = None, communicator: str | None = None,
                 conda_dependencies: CondaDependencies | None = None, _history_enabled: bool | None = None,
                 _path: str | os.PathLike[str] | None = None, _name: str | None = None,
                 command: str | list[Any] | None = None):
        self.script = script
        self.arguments: Any = arguments if arguments is not None else []
        self._target: Any = LOCAL_TARGET
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.max_run_duration_seconds: int | None = None
        self.node_count = 1
        self.priority: int | None = None
        self.environment: Any = Environment(DEFAULT_ENVIRONMENT_NAME)
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.history = SimpleNamespace(output_collection=True, snapshot_project=True,
                                       directories_to_watch=["logs"])
        if _history_enabled:
            self.history.output_collection = True
        self.spark = SimpleNamespace(configuration={"spark.app.name": "Azure ML Experiment",
                                                    "spark.yarn.maxAppAttempts": 1})
        self.docker = DockerConfiguration()
        self.hdi = SimpleNamespace(yarn_deploy_mode="cluster")
        self.tensorflow = TensorflowConfiguration()
        self.mpi = MpiConfiguration()
        self.pytorch = PyTorchConfiguration()
        self.paralleltask = ParallelTaskConfiguration()
        self.data_references: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.datacaches: list[Any] = []
        self.output_data: dict[str, Any] = {}
        self.source_directory_data_store: Any = None
        self.amlcompute = SimpleNamespace(vm_size=None, vm_priority=None)
        self.auto_cluster_compute_specification: Any = None
        self.kubernetescompute = SimpleNamespace(instance_type=None)
        self.credential_passthrough = False
        self.command: Any = command
        self.environment_variables: dict[str, str] = {}
        self.secret_environment_variables: list[str] = []  # names only; values never stored with the run
        self.services: dict[str, Any] = {}
        self._path = str(_path) if _path is not None else None
        self._name = _name

    @property
    def target(self) -> Any:
        """The compute target name (``"local"`` by default); assigning an object stores its ``.name``."""
        return self._target

    @target.setter
    def target(self, value: Any) -> None:
        self._target = name_of(value)

    # -- distributed sections -------------------------------------------------------------

    @property
    def auto_prepare_environment(self) -> bool:
        """Deprecated in v1 and a no-op: environments are always prepared."""
        warnings.warn("RunConfiguration.auto_prepare_environment is deprecated and has no effect: "
                      "environments are always prepared; remove it", DeprecationWarning, stacklevel=2)
        return True

    @auto_prepare_environment.setter
    def auto_prepare_environment(self, value: bool) -> None:
        warnings.warn("RunConfiguration.auto_prepare_environment is deprecated and has no effect: "
                      "environments are always prepared; remove it", DeprecationWarning, stacklevel=2)

    def _set_distributed(self, config: Any) -> None:
        """Point framework/communicator/section at ``config`` (v1's ScriptRunConfig mapping)."""
        if isinstance(config, TensorflowConfiguration):
            self.framework, self.communicator, self.tensorflow = "TensorFlow", "ParameterServer", config
        elif isinstance(config, MpiConfiguration):
            self.framework, self.communicator, self.mpi = "Python", "IntelMpi", config
        elif isinstance(config, PyTorchConfiguration):
            self.framework, self.communicator, self.pytorch = "PyTorch", config.communication_backend, config
            self._implied_communicator = None if config._backend_given else self.communicator
        elif isinstance(config, ParallelTaskConfiguration):
            self.framework, self.communicator, self.paralleltask = "Python", "ParallelTask", config
        elif config is None:
            self.communicator = "None"
        else:
            raise TypeError(f"not a distributed job configuration: {config!r}")

    def _distributed_config(self) -> Any:
        """The section the communicator activates, or None."""
        section = COMMUNICATORS.get(self.communicator.lower()) if isinstance(self.communicator, str) else None
        return getattr(self, section) if section else None

    # -- reduction to the spec ----------------------------------------------------------

    def _spec_data(self) -> tuple[dict[str, Any], list[Problem]]:
        """The JobSpec fields this configuration stands for (unvalidated), and the problems
        only this layer can see (framework/communicator names, data sections)."""
        problems = self._check_names()
        for field in _DATA_FIELDS:
            if getattr(self, field, None):
                problems.append(Problem(f"run_config.{field}", f"the v1 `{field}` section is not supported",
                                        hint="declare data on the ScriptRunConfig: inputs=[ds.as_named_input('x'), "
                                             "datastore.path('folder').as_mount()] and outputs=[OutputFileDatasetConfig(...)]"))
        docker = self.docker
        if isinstance(docker, DockerConfiguration):
            docker_data = None if docker._is_default() else docker._spec_data()
        else:
            docker_data = docker
        env = self.environment
        if docker_data is None and isinstance(env, Environment):
            docker_data = env._docker_runtime_data()  # v1: deprecated Environment.docker fields still apply
        data: dict[str, Any] = {
            "script": self.script,
            "arguments": argument_list(self.arguments) if self.arguments is not None else [],
            "command": copy.deepcopy(self.command) if self.command not in ("", []) else None,
            "compute_target": name_of(self._target),
            "environment": environment_spec_data(env),
            "distributed_job_config": self._distribution_data(problems),
            "node_count": self.node_count,
            "environment_variables": dict(self.environment_variables)
            if isinstance(self.environment_variables, dict) else self.environment_variables,
            "secret_environment_variables": list(self.secret_environment_variables)
            if isinstance(self.secret_environment_variables, (list, tuple)) else self.secret_environment_variables,
            "max_run_duration_seconds": self.max_run_duration_seconds
            if self.max_run_duration_seconds is not None else MAX_DURATION_SECONDS_DEFAULT,
            "docker_runtime_config": docker_data,
            "source_directory_data_store": name_of(self.source_directory_data_store),
        }
        return data, problems

    def _check_names(self) -> list[Problem]:
        problems = []
        framework = self.framework
        if not isinstance(framework, str) or framework.lower() not in SUPPORTED_FRAMEWORKS:
            known = framework.lower() in (f.lower() for f in FRAMEWORKS) if isinstance(framework, str) else False
            problems.append(Problem(
                "run_config.framework",
                f"framework {framework!r} is not supported" if known else f"unknown framework {framework!r}",
                hint=None if known else did_you_mean(str(framework), list(FRAMEWORKS))
                or "use Python, TensorFlow or PyTorch"))
        communicator = self.communicator
        if not isinstance(communicator, str) or communicator.lower() not in COMMUNICATORS:
            problems.append(Problem(
                "run_config.communicator", f"unknown communicator {communicator!r}",
                hint=did_you_mean(str(communicator), list(_COMMUNICATOR_NAMES))
                or "use one of " + ", ".join(_COMMUNICATOR_NAMES)))
        return problems

    def _distribution_data(self, problems: list[Problem]) -> Any:
        section = COMMUNICATORS.get(self.communicator.lower()) if isinstance(self.communicator, str) else None
        if section is None:
            return None
        config = getattr(self, section)
        if not hasattr(config, "_spec_data"):
            problems.append(Problem(f"run_config.{section}", f"expected a configuration object, got {config!r}"))
            return None
        data = config._spec_data()
        if section == "pytorch" and self.communicator != getattr(self, "_implied_communicator", None):
            data["communication_backend"] = self.communicator.lower()  # else: no backend given (the default)
        return data

    # -- files ----------------------------------------------------------------------------

    @staticmethod
    def load(path: str | os.PathLike[str], name: str | None = None) -> RunConfiguration:
        """Load a v1 ``.runconfig`` file: ``path`` itself, or ``name`` looked up under ``path``
        (``.azureml/<name>``, ``aml_config/<name>``, then with ``.runconfig``, then
        ``<path>/<name>.runconfig``)."""
        return load_runconfig(path, name, RunConfiguration)

    def save(self, path: str | os.PathLike[str] | None = None, name: str | None = None,
             separate_environment_yaml: bool = False) -> str:
        """Write the v1 ``.runconfig`` YAML; return the file written.

        ``path`` a folder → ``<path>/.azureml/<name>`` (``aml_config/`` if that exists);
        otherwise a file path, whose parent folders are created as needed.
        """
        return save_runconfig(self, path, name, separate_environment_yaml)

    def __repr__(self) -> str:
        return (f"RunConfiguration(script={self.script!r}, target={self._target!r}, framework={self.framework!r}, "
                f"communicator={self.communicator!r}, node_count={self.node_count!r})")
