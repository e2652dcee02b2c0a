"""v1's deprecated estimators — ``Estimator``, ``PyTorch``, ``TensorFlow``, ``SKLearn`` — as
builders of the equivalent ``ScriptRunConfig``.

An estimator holds no behaviour of its own. Its constructor checks v1's rules (§9 of the v1
notes) and plans the equivalent ScriptRunConfig once, as objects *and* as Python code from the
same plan: ``to_script_run_config()`` returns the object, and the one ``DeprecationWarning``
prints the code, so users move off estimators by copy-paste. ``Experiment.submit(estimator)``
submits ``to_script_run_config()`` through the one ScriptRunConfig path, so both give the same
``JobSpec``.

Mapping: ``entry_script`` → ``script``; ``script_params`` flattened to ``arguments``
(``{"--flag": ""}`` gives a bare flag); framework → the matching curated environment, and
package lists or files → an environment built from them; ``distributed_backend`` /
``distributed_training`` → a distributed configuration; ``environment_variables`` →
``run_config.environment_variables``. Settings that mean nothing locally (``use_gpu``,
``vm_priority``, ``shm_size`` without a custom image…) are listed as ``# scriptrun:``
comments in the printed code.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from scriptrun.config.distributed import (
    DockerConfiguration,
    MpiConfiguration,
    PyTorchConfiguration,
    TensorflowConfiguration,
)
from scriptrun.config.legacy_distributed import Gloo, Mpi, Nccl, ParameterServer, distributed_config
from scriptrun.config.runconfig import name_of
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.config.script_run_config import _submit as _submit_script_run_config
from scriptrun.environment.conda import CondaDependencies
from scriptrun.environment.curated import curated_definitions
from scriptrun.environment.environment import Environment
from scriptrun.errors import ConfigError, Problem
from scriptrun.runs.experiment import register_submit_function
from scriptrun.workspace import Workspace

_LITERALS = (str, int, float, bool, type(None))
_PACKAGE_ARGS = ("conda_packages", "pip_packages", "pip_requirements_file", "conda_dependencies_file")


def _is_literal(value: Any) -> bool:
    """True when ``repr(value)`` is Python code that rebuilds ``value``."""
    if isinstance(value, _LITERALS):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, _LITERALS) and _is_literal(v) for k, v in value.items())
    return False


def flatten_script_params(script_params: dict[str, Any] | None) -> list[tuple[Any, str]]:
    """v1's flattening of ``script_params`` into ``[k1, v1, k2, v2…]``: list values expanded,
    ``None``/``""`` items dropped. Each item comes with the code that names it."""
    out: list[tuple[Any, str]] = []
    for key, value in (script_params or {}).items():
        if key not in (None, ""):
            out.append((key, repr(key)))
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        for i, item in enumerate(values):
            if item is None or item == "":
                continue
            where = f"script_params[{key!r}]" + (f"[{i}]" if isinstance(value, (list, tuple)) else "")
            out.append((item, repr(item) if _is_literal(item) else where))
    return out


class _Plan:
    """The equivalent ScriptRunConfig: keyword values with their code, plus setup lines."""

    def __init__(self) -> None:
        self.imports: set[str] = {"ScriptRunConfig"}
        self.setup: list[str] = []
        self.kwargs: list[tuple[str, Any, str]] = []
        self.after: list[str] = []
        self.notes: list[str] = []
        self.environment_variables: dict[str, str] | None = None

    def add(self, name: str, value: Any, code: str | None = None) -> None:
        self.kwargs.append((name, value, code if code is not None else repr(value)))


class Estimator:
    """Deprecated (v1): use ``ScriptRunConfig`` with an ``Environment``. Every argument after
    ``source_directory`` is keyword-only, as in v1."""

    _framework: str | None = None  # "PyTorch", "TensorFlow", "SKLearn"
    _curated: str | None = None  # the curated environment the framework maps to
    _backends: tuple[str, ...] = ("mpi",)
    _legacy: tuple[type, ...] = (Mpi,)

    def __init__(self, source_directory: str | os.PathLike[str], *, compute_target: Any = None,
                 vm_size: str | None = None, vm_priority: str | None = None, entry_script: str | None = None,
                 script_params: dict[str, Any] | None = None, node_count: int = 1,
                 process_count_per_node: int = 1, distributed_backend: str | None = None,
                 distributed_training: Any = None, use_gpu: bool = False, use_docker: bool = True,
                 custom_docker_base_image: str | None = None, custom_docker_image: str | None = None,
                 image_registry_details: Any = None, user_managed: bool = False,
                 conda_packages: list[str] | None = None, pip_packages: list[str] | None = None,
                 conda_dependencies_file_path: str | None = None, pip_requirements_file_path: str | None = None,
                 conda_dependencies_file: str | None = None, pip_requirements_file: str | None = None,
                 environment_variables: dict[str, str] | None = None, environment_definition: Any = None,
                 inputs: list[Any] | None = None, source_directory_data_store: Any = None,
                 shm_size: str | None = None, resume_from: Any = None,
                 max_run_duration_seconds: int | None = None, **kwargs: Any):
        given = dict(locals())
        del given["self"], given["kwargs"]
        self._init(given, kwargs)

    def _init(self, given: dict[str, Any], kwargs: dict[str, Any]) -> None:
        extra = kwargs.pop("framework_version", None)
        unknown = sorted(k for k in kwargs if not k.startswith("_"))
        if unknown:
            raise ConfigError([Problem(k, f"{type(self).__name__}() has no argument `{k}`") for k in unknown])
        # the deprecated *_file_path spellings are the same settings
        for name in ("conda_dependencies_file", "pip_requirements_file"):
            old = given.pop(f"{name}_path")
            given[name] = given[name] or old
        given["framework_version"] = extra
        self._params = given
        raise_problems_of(self._check(given))
        self._plan = self._make_plan(given)
        warnings.warn(self._deprecation_message(), DeprecationWarning, stacklevel=_caller_stacklevel())

    # -- the public surface -------------------------------------------------------------

    @property
    def source_directory(self) -> str:
        return os.fspath(self._params["source_directory"])

    @property
    def run_config(self) -> Any:
        """The equivalent ScriptRunConfig's ``run_config`` (a fresh one on each access)."""
        return self.to_script_run_config().run_config

    def to_script_run_config(self) -> ScriptRunConfig:
        """The equivalent :class:`ScriptRunConfig` (the one the deprecation warning prints)."""
        plan = self._plan
        src = ScriptRunConfig(**{name: value for name, value, _ in plan.kwargs})
        if plan.environment_variables:
            src.run_config.environment_variables = dict(plan.environment_variables)
        return src

    def script_run_config_code(self) -> str:
        """Python code that builds the equivalent ScriptRunConfig."""
        plan = self._plan
        names = sorted(plan.imports)
        lines = [f"from scriptrun import {', '.join(names)}", ""]
        lines += plan.setup + ([""] if plan.setup else [])
        lines.append("src = ScriptRunConfig(")
        lines += [f"    {name}={code}," for name, _, code in plan.kwargs]
        lines.append(")")
        lines += plan.after
        lines += [f"# scriptrun: {note}" for note in plan.notes]
        return "\n".join(lines) + "\n"

    def _deprecation_message(self) -> str:
        code = self.script_run_config_code()
        refers = [n for n in ("script_params", "inputs", "environment_definition", "resume_from", "compute_target")
                  if f"={n}," in code or f"{n}[" in code]
        refs = (f" (`{'`, `'.join(refers)}` are the values you passed to the estimator)" if refers else "")
        indented = "\n".join("    " + line if line else "" for line in code.splitlines())
        return (f"{type(self).__name__} is deprecated: use ScriptRunConfig with an Environment. "
                f"The equivalent of this estimator{refs}:\n\n{indented}\n")

    # -- v1's validation rules ----------------------------------------------------------

    def _check(self, p: dict[str, Any]) -> list[Problem]:
        problems: list[Problem] = []
        name = type(self).__name__

        def bad(path: str, message: str, hint: str | None = None) -> None:
            problems.append(Problem(path, message, hint))

        if p["environment_definition"] is not None:
            clash = [k for k in (*_PACKAGE_ARGS, "custom_docker_image", "custom_docker_base_image",
                                 "image_registry_details", "use_gpu", "user_managed", "shm_size",
                                 "environment_variables") if p.get(k)]
            if clash:
                bad("environment_definition", f"environment_definition cannot be combined with {', '.join(clash)}",
                    hint="put those settings on the Environment you pass, or drop environment_definition")
        if p["conda_dependencies_file"] and (p["conda_packages"] or p["pip_packages"] or p["pip_requirements_file"]):
            bad("conda_dependencies_file", "conda_dependencies_file cannot be combined with package lists or "
                "pip_requirements_file", hint="list the packages in the conda file instead")
        if p["user_managed"] and any(p.get(k) for k in _PACKAGE_ARGS):
            bad("user_managed", "user_managed=True cannot be combined with package lists or files",
                hint="a user-managed environment installs nothing; drop the packages or user_managed")
        if p["custom_docker_image"] and p["custom_docker_base_image"]:
            bad("custom_docker_image", "give custom_docker_image or custom_docker_base_image, not both")
        if not p["use_docker"] and (p["custom_docker_image"] or p["custom_docker_base_image"]):
            bad("use_docker", "use_docker=False with a custom docker image",
                hint="drop the image, or use_docker=True")
        for field in ("node_count", "process_count_per_node"):
            value = p.get(field, 1)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                bad(field, f"must be a whole number >= 1, got {value!r}")
        backend, training = p.get("distributed_backend"), p.get("distributed_training")
        if backend is not None and training is not None:
            bad("distributed_backend", "give distributed_backend or distributed_training, not both")
        if backend is not None and (not isinstance(backend, str) or backend.lower() not in self._backends):
            bad("distributed_backend", f"{name} does not support distributed_backend={backend!r}",
                hint=f"use one of {', '.join(repr(b) for b in self._backends)}" if self._backends else
                f"{name} runs on one node")
        if training is not None and not isinstance(training, (*self._legacy, MpiConfiguration, PyTorchConfiguration,
                                                                TensorflowConfiguration)):
            allowed = ", ".join(c.__name__ + "()" for c in self._legacy)
            bad("distributed_training", f"{name} does not support distributed_training={training!r}",
                hint=f"use {allowed} or a distributed configuration")
        many = (isinstance(p.get("node_count"), int) and p.get("node_count", 1) > 1) or \
            (isinstance(p.get("process_count_per_node"), int) and p.get("process_count_per_node", 1) > 1)
        if many and backend is None and training is None:
            bad("node_count", "node_count > 1 or process_count_per_node > 1 needs a distributed backend",
                hint="add distributed_training=Mpi(...) (or distributed_backend='mpi')")
        if p["compute_target"] is None:
            if p["vm_size"]:
                bad("vm_size", "a run-based cluster (vm_size without compute_target) does not exist locally",
                    hint="pass compute_target='local', or an attached target (`scriptrun compute attach-ray`)")
            else:
                bad("compute_target", f"{name} needs a compute_target", hint="compute_target='local'")
        if p["script_params"] is not None and not isinstance(p["script_params"], dict):
            bad("script_params", f"expected a dict of flag → value, got {type(p['script_params']).__name__}")
        return problems

    # -- the plan -------------------------------------------------------------------------

    def _make_plan(self, p: dict[str, Any]) -> _Plan:
        plan = _Plan()
        source = os.fspath(p["source_directory"])
        plan.add("source_directory", source)
        if p["entry_script"] is not None:
            plan.add("script", p["entry_script"])
        flat = flatten_script_params(p["script_params"])
        if flat:
            plan.add("arguments", [v for v, _ in flat], "[" + ", ".join(code for _, code in flat) + "]")
        target = name_of(p["compute_target"])
        plan.add("compute_target", target, repr(target) if _is_literal(target) else "compute_target")
        self._plan_environment(plan, p, source)
        self._plan_distribution(plan, p)
        if p["inputs"]:
            plan.add("inputs", list(p["inputs"]), repr(list(p["inputs"])) if _is_literal(p["inputs"]) else "inputs")
        if p["resume_from"] is not None:
            plan.add("resume_from", p["resume_from"], "resume_from")
        if p["max_run_duration_seconds"] is not None:
            plan.add("max_run_duration_seconds", p["max_run_duration_seconds"])
        store = name_of(p["source_directory_data_store"])
        if store is not None:
            plan.add("source_directory_data_store", store)
        if p["environment_variables"]:
            plan.environment_variables = dict(p["environment_variables"])
            plan.after.append(f"src.run_config.environment_variables = {plan.environment_variables!r}")
        for field, note in (("use_gpu", "use_gpu has no effect locally: the job uses the GPUs it finds"),
                            ("vm_priority", "vm_priority has no local meaning"),
                            ("image_registry_details", "image_registry_details is ignored locally")):
            if p.get(field):
                plan.notes.append(note)
        if p["shm_size"] and not (p["custom_docker_image"] or p["custom_docker_base_image"]):
            plan.notes.append("shm_size only applies to a docker run; none is used here")
        if p.get("framework_version"):
            plan.notes.append(f"framework_version={p['framework_version']!r}: the curated environment's "
                              "version is used; pin another in pip_packages")
        return plan

    def _plan_environment(self, plan: _Plan, p: dict[str, Any], source: str) -> None:
        definition = p["environment_definition"]
        if definition is not None:
            plan.add("environment", definition, repr(definition) if _is_literal(definition)
                     else "environment_definition")
            return
        image = p["custom_docker_image"] or p["custom_docker_base_image"]
        custom = any(p.get(k) for k in _PACKAGE_ARGS) or p["user_managed"] or image
        if not custom:
            if self._curated is not None:  # a framework with no package changes: its curated environment
                plan.add("environment", self._curated)
            return
        env_name = f"{type(self).__name__.lower()}-estimator"
        base = self._base_definition()
        conda_file, pip_file = p["conda_dependencies_file"], p["pip_requirements_file"]
        plan.imports.add("Environment")
        if conda_file:
            path = _in_source(source, conda_file)
            env = Environment.from_conda_specification(env_name, path)
            plan.setup.append(f"env = Environment.from_conda_specification({env_name!r}, {path!r})")
        elif pip_file:
            path = _in_source(source, pip_file)
            env = Environment.from_pip_requirements(env_name, path)
            plan.setup.append(f"env = Environment.from_pip_requirements({env_name!r}, {path!r})")
            for package in p["pip_packages"] or []:
                env.python.conda_dependencies.add_pip_package(package)
                plan.setup.append(f"env.python.conda_dependencies.add_pip_package({package!r})")
        else:
            env = Environment(env_name)
            plan.setup.append(f"env = Environment({env_name!r})")
            pip = [*base.get("pip_packages", []), *(p["pip_packages"] or [])]
            conda = list(p["conda_packages"] or [])
            if pip or conda:
                args = [f"pip_packages={pip!r}"] if pip else []
                args += [f"conda_packages={conda!r}"] if conda else []
                env.python.conda_dependencies = CondaDependencies.create(pip_packages=pip, conda_packages=conda)
                plan.imports.add("CondaDependencies")
                plan.setup.append(f"env.python.conda_dependencies = CondaDependencies.create({', '.join(args)})")
        if base.get("environment_variables"):
            env.environment_variables = dict(base["environment_variables"])
            plan.setup.append(f"env.environment_variables = {env.environment_variables!r}")
        if p["user_managed"]:
            env.python.user_managed_dependencies = True
            plan.setup.append("env.python.user_managed_dependencies = True")
        if image:
            env.docker.base_image = image
            plan.setup.append(f"env.docker.base_image = {image!r}")
            docker = DockerConfiguration(use_docker=True, shm_size=p["shm_size"] or "2g")
            plan.imports.add("DockerConfiguration")
            plan.add("docker_runtime_config", docker,
                     f"DockerConfiguration(use_docker=True, shm_size={docker.shm_size!r})")
        plan.add("environment", env, "env")

    def _base_definition(self) -> dict[str, Any]:
        """The framework's packages and variables (from its curated environment)."""
        if self._curated is None:
            return {}
        data = curated_definitions()[self._curated]
        conda = (data.get("python") or {}).get("conda_dependencies") or {}
        return {"pip_packages": list(conda.get("pip_packages") or []),
                "environment_variables": dict(data.get("environment_variables") or {})}

    def _plan_distribution(self, plan: _Plan, p: dict[str, Any]) -> None:
        nodes, per_node = p.get("node_count", 1), p.get("process_count_per_node", 1)
        backend, training = p.get("distributed_backend"), p.get("distributed_training")
        if backend is not None:
            training = {"mpi": Mpi(per_node), "gloo": Gloo(), "nccl": Nccl(),
                        "ps": ParameterServer(p.get("worker_count", 1), p.get("parameter_server_count", 1))
                        }[backend.lower()]
        config = distributed_config(training, node_count=nodes, process_count_per_node=per_node)
        if config is None:
            return
        plan.imports.add(type(config).__name__)
        inner = ", ".join(f"{k}={v!r}" for k, v in config._values().items())
        plan.add("distributed_job_config", config, f"{type(config).__name__}({inner})")
        if isinstance(config, TensorflowConfiguration) and nodes != 1:
            plan.add("node_count", nodes)


class PyTorch(Estimator):
    """Deprecated (v1): a PyTorch estimator → ScriptRunConfig with the curated PyTorch environment."""

    _framework = "PyTorch"
    _curated = "scriptrun-pytorch-cpu"
    _backends = ("mpi", "gloo", "nccl")
    _legacy = (Mpi, Gloo, Nccl)
    DEFAULT_VERSION = "1.4"


class TensorFlow(Estimator):
    """Deprecated (v1): a TensorFlow estimator (``worker_count``/``parameter_server_count`` for
    ``distributed_backend='ps'``) → ScriptRunConfig with an environment that installs TensorFlow."""

    _framework = "TensorFlow"
    _backends = ("mpi", "ps")
    _legacy = (Mpi, ParameterServer)
    DEFAULT_VERSION = "1.13"

    def __init__(self, source_directory: str | os.PathLike[str], *, worker_count: int = 1,
                 parameter_server_count: int = 1, **kwargs: Any):
        self._worker_count, self._ps_count = worker_count, parameter_server_count
        framework_version = kwargs.get("framework_version")
        package = f"tensorflow=={framework_version}.*" if framework_version else "tensorflow"
        packages = kwargs.get("pip_packages") or []
        if kwargs.get("environment_definition") is None and not kwargs.get("conda_dependencies_file") \
                and not kwargs.get("user_managed"):
            kwargs["pip_packages"] = [package, *packages]
        kwargs.pop("framework_version", None)
        super().__init__(source_directory, **kwargs)

    def _plan_distribution(self, plan: _Plan, p: dict[str, Any]) -> None:
        p = {**p, "worker_count": self._worker_count, "parameter_server_count": self._ps_count}
        super()._plan_distribution(plan, p)


class SKLearn(Estimator):
    """Deprecated (v1): a scikit-learn estimator (one node) → ScriptRunConfig with the curated
    scikit-learn environment."""

    _framework = "SKLearn"
    _curated = "scriptrun-sklearn"
    _backends = ()
    _legacy = ()
    DEFAULT_VERSION = "0.20.3"

    def __init__(self, source_directory: str | os.PathLike[str], **kwargs: Any):
        single = [k for k in ("node_count", "process_count_per_node", "distributed_backend",
                              "distributed_training", "use_gpu", "custom_docker_base_image") if k in kwargs]
        if single:
            raise ConfigError([Problem(k, f"SKLearn has no `{k}`: it runs one process on one node",
                                       hint="use Estimator(...) or a ScriptRunConfig for distributed jobs")
                               for k in single])
        super().__init__(source_directory, **kwargs)


class Chainer:
    """v1's Chainer estimator: not supported (Chainer is no longer developed)."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise ConfigError(Problem("Chainer", "the Chainer estimator is not supported: Chainer is no longer "
                                  "developed and scriptrun has no Chainer environment",
                                  hint="use Estimator(..., pip_packages=['chainer']) or, better, "
                                       "ScriptRunConfig with an Environment that installs chainer"))


def raise_problems_of(problems: list[Problem]) -> None:
    if problems:
        raise ConfigError(problems)


def _in_source(source: str, file: str) -> str:
    """v1 reads package files relative to ``source_directory`` (else as given)."""
    inside = os.path.join(source, file)
    return os.path.abspath(inside if not os.path.isabs(file) and os.path.exists(inside) else file)


def _caller_stacklevel() -> int:
    """The stack level of the first frame outside this module (the user's constructor call)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


def _submit(estimator: Estimator, workspace: Workspace, experiment_name: str, **kwargs: Any) -> Any:
    """``Experiment.submit(estimator)``: submit the equivalent ScriptRunConfig."""
    return _submit_script_run_config(estimator.to_script_run_config(), workspace, experiment_name, **kwargs)


register_submit_function(Estimator, _submit)
