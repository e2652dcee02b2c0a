"""v1's ``Environment``: a named, versioned definition of where a job's Python comes from.

An environment with no package lists runs the submitting interpreter — the fast default for
local runs. An untouched ``Environment("default-environment")`` (what v1 puts in a fresh
``RunConfiguration``) means exactly "no environment given" and reduces to ``environment=None``
in the :class:`~scriptrun.spec.job.JobSpec`.

Registered environments live in the workspace registry (``AssetRegistry(ws, "environments")``)
with integer versions, reported as strings (``"1"``) as v1 does. Curated environments
(``curated.py``) are found after the registered ones. An environment with package lists is
built into a cached virtualenv when a run needs it (``builder.py``).
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any

from scriptrun.environment.conda import CondaDependencies
from scriptrun.environment.curated import CURATED_VERSION, curated_definition, curated_definitions
from scriptrun.errors import ConfigError, Problem, WorkspaceError
from scriptrun.spec.job import DockerSpec, EnvironmentSpec
from scriptrun.spec.problems import validate_model
from scriptrun.workspace import AssetRegistry, Workspace

DEFAULT_ENVIRONMENT_NAME = "default-environment"
REGISTRY_KIND = "environments"
_DOCKER_RUNTIME_KEY = "docker_runtime"  # deprecated Environment.docker runtime fields, kept in the registry


class PythonSection:
    """Where the job's Python comes from: the current interpreter (user-managed or no package
    lists), ``interpreter_path``, or the package lists of ``conda_dependencies``."""

    def __init__(self, user_managed_dependencies: bool = False, interpreter_path: str | None = None,
                 conda_dependencies: CondaDependencies | None = None):
        self.user_managed_dependencies = user_managed_dependencies
        self.interpreter_path = interpreter_path
        self.conda_dependencies = conda_dependencies

    def _spec_data(self) -> dict[str, Any]:
        conda = self.conda_dependencies
        return {"user_managed_dependencies": self.user_managed_dependencies,
                "interpreter_path": self.interpreter_path,
                "conda_dependencies": conda._spec_data() if isinstance(conda, CondaDependencies) else conda}


class ContainerRegistry:
    """v1's registry of a private base image (``address``, ``username``, ``password``,
    ``registry_identity``). Accepted and kept on the object; it only qualifies the base image,
    and scriptrun pulls no images, so it has no effect on a job."""

    def __init__(self, address: str | None = None, username: str | None = None, password: str | None = None,
                 registry_identity: Any = None):
        self.address = address
        self.username = username
        self.password = password
        self.registry_identity = registry_identity

    def __repr__(self) -> str:
        return f"ContainerRegistry(address={self.address!r})"


class PlatformSection:
    """v1's image platform (``os``, ``architecture``): accepted, no effect (jobs run here)."""

    def __init__(self, os: str = "Linux", architecture: str = "amd64"):  # noqa: A002 - v1 name
        self.os = os
        self.architecture = architecture


_DEPRECATED_RUNTIME = {"enabled": "use_docker", "shared_volumes": "shared_volumes", "shm_size": "shm_size",
                       "arguments": "arguments"}


class DockerSection:
    """The environment's container image. ``enabled``, ``shared_volumes``, ``shm_size`` and
    ``arguments`` are v1's deprecated runtime fields (use ``DockerConfiguration``); they are
    honoured when a job sets no ``docker_runtime_config``. ``base_image_registry``,
    ``platform``, ``build_context`` and ``gpu_support`` are accepted and have no effect
    (scriptrun pulls and builds no images)."""

    def __init__(self, base_image: str | None = None, base_dockerfile: str | None = None, *,
                 enabled: bool = False, shared_volumes: bool = True, shm_size: str = "2g",
                 arguments: list[str] | None = None):
        self._base_image = base_image
        self._base_dockerfile = base_dockerfile
        self.enabled = enabled
        self.shared_volumes = shared_volumes
        self.shm_size = shm_size
        self.arguments = list(arguments) if arguments else []
        self.gpu_support = True  # v1: deprecated no-op
        self.base_image_registry = ContainerRegistry()
        self.platform = PlatformSection()
        self.build_context: Any = None
        self._ready = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _DEPRECATED_RUNTIME and getattr(self, "_ready", False):
            warnings.warn(f"Environment.docker.{name} is deprecated: pass "
                          f"ScriptRunConfig(docker_runtime_config=DockerConfiguration({_DEPRECATED_RUNTIME[name]}=...)) "
                          "instead", DeprecationWarning, stacklevel=2)
        super().__setattr__(name, value)

    @property
    def base_image(self) -> str | None:
        return self._base_image

    @base_image.setter
    def base_image(self, value: str | None) -> None:
        if value and self._base_dockerfile:
            warnings.warn("setting docker.base_image clears docker.base_dockerfile", UserWarning, stacklevel=2)
            self._base_dockerfile = None
        self._base_image = value

    @property
    def base_dockerfile(self) -> str | None:
        return self._base_dockerfile

    @base_dockerfile.setter
    def base_dockerfile(self, value: str | None) -> None:
        if value and self._base_image:
            warnings.warn("setting docker.base_dockerfile clears docker.base_image", UserWarning, stacklevel=2)
            self._base_image = None
        self._base_dockerfile = value

    def _spec_data(self) -> dict[str, Any] | None:
        if self._base_image is None and self._base_dockerfile is None:
            return None
        return {"base_image": self._base_image, "base_dockerfile": self._base_dockerfile}

    def _runtime_data(self) -> dict[str, Any] | None:
        """The deprecated runtime fields as ``DockerSpec`` data, or None when untouched."""
        data = {"use_docker": self.enabled, "shared_volumes": self.shared_volumes,
                "arguments": list(self.arguments), "shm_size": self.shm_size}
        return None if data == DockerSpec().model_dump() else data


class Environment:
    """A job environment: Python source, environment variables and an optional docker image."""

    def __init__(self, name: str | None):
        if name is not None and not isinstance(name, str):
            raise ConfigError(Problem("name", f"environment name must be a string, got {type(name).__name__}"))
        self.name = name
        self.version: str | None = None
        self.environment_variables: dict[str, str] = {}
        self.python = PythonSection()
        self.docker = DockerSection()

    # -- spec conversion ------------------------------------------------------------------

    def _spec_data(self) -> dict[str, Any]:
        python = self.python._spec_data() if isinstance(self.python, PythonSection) else self.python
        docker = self.docker._spec_data() if isinstance(self.docker, DockerSection) else self.docker
        env_vars = self.environment_variables
        return {"name": self.name, "version": self.version,
                "environment_variables": dict(env_vars) if isinstance(env_vars, dict) else env_vars,
                "python": python, "docker": docker}

    def _to_spec(self) -> EnvironmentSpec:
        return validate_model(EnvironmentSpec, self._spec_data())

    @classmethod
    def _from_spec(cls, spec: EnvironmentSpec, docker_runtime: dict[str, Any] | None = None) -> Environment:
        env = cls(spec.name)
        env.version = spec.version
        env.environment_variables = dict(spec.environment_variables)
        conda = spec.python.conda_dependencies
        env.python = PythonSection(spec.python.user_managed_dependencies, spec.python.interpreter_path,
                                   CondaDependencies._from_spec(conda) if conda is not None else None)
        runtime = DockerSpec.model_validate(docker_runtime or {})
        image = spec.docker
        env.docker = DockerSection(image.base_image if image else None, image.base_dockerfile if image else None,
                                   enabled=runtime.use_docker, shared_volumes=runtime.shared_volumes,
                                   shm_size=runtime.shm_size, arguments=list(runtime.arguments))
        return env

    def _docker_runtime_data(self) -> dict[str, Any] | None:
        return self.docker._runtime_data() if isinstance(self.docker, DockerSection) else None

    def _is_default(self) -> bool:
        """True for an untouched default environment (means: run the current interpreter)."""
        if self.name not in (None, DEFAULT_ENVIRONMENT_NAME) or self._docker_runtime_data() is not None:
            return False
        return self._spec_data() == {**Environment(self.name)._spec_data()}

    # -- registry -------------------------------------------------------------------------

    def register(self, workspace: Workspace) -> Environment:
        """Register this definition; return a new Environment carrying its version.

        Registering a definition identical to an existing version returns that version.
        """
        if not self.name:
            raise ConfigError(Problem("name", "an environment needs a name to be registered"))
        if self.version is not None:
            warnings.warn(f"Environment {self.name!r}: the preset version {self.version!r} is ignored; "
                          "the registry assigns versions", UserWarning, stacklevel=2)
        definition = self._to_spec().model_dump(mode="json", exclude={"version"})
        runtime = self._docker_runtime_data()
        if runtime is not None:
            definition[_DOCKER_RUNTIME_KEY] = runtime
        version = AssetRegistry(workspace, REGISTRY_KIND).register(self.name, definition)
        return _from_definition(definition, version)

    @staticmethod
    def get(workspace: Workspace, name: str, version: str | int | None = None,
            label: str | None = None) -> Environment:
        """A registered environment (``version``, or the latest when None), else a curated one.

        v1 curated names (``AzureML-…``) resolve to the nearest curated scriptrun environment
        with a warning that names it.
        """
        if version is not None and label is not None:
            raise ConfigError(Problem("label", "give either `version` or `label`, not both"))
        if label is not None and label != "latest":
            raise WorkspaceError(f"environment labels are not supported (got label={label!r}); "
                                 "use version= or omit it for the latest version")
        registry = AssetRegistry(workspace, REGISTRY_KIND)
        if not registry.versions(name):
            curated = curated_definition(name)
            if curated is not None:
                if version is not None and str(version) != str(CURATED_VERSION):
                    raise WorkspaceError(f"curated environment {curated['name']!r} has only version "
                                         f"{CURATED_VERSION}; got version={version!r}")
                return _from_definition(curated, CURATED_VERSION)
        definition, found = registry.get(name, version)
        return _from_definition(definition, found)

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Environment]:
        """Every environment name with its latest version: curated ones, then registered ones
        (a registered name hides a curated one of the same name)."""
        out = {name: _from_definition(definition, CURATED_VERSION)
               for name, definition in curated_definitions().items()}
        out.update({name: _from_definition(definition, version)
                    for name, (definition, version) in AssetRegistry(workspace, REGISTRY_KIND).latest().items()})
        return out

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike[str],
                              pip_version: str | None = None) -> Environment:
        """An environment whose pip packages are the lines of a requirements file (comments,
        blank lines and ``-r`` includes handled; ``--index-url`` and friends become pip options)."""
        deps = CondaDependencies()
        for option, requirement in _requirement_lines(Path(file_path)):
            if option:
                deps.set_pip_option(option)
            else:
                deps.add_pip_package(requirement)
        if pip_version:
            deps.add_pip_package(f"pip=={pip_version}")
        env = Environment(name)
        env.python.conda_dependencies = deps
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment from a conda environment file. Its ``pip:`` section is built with
        uv; conda packages need conda/micromamba on PATH (checked when a job is validated).
        Unlike v1, a file without a python pin uses the submitting interpreter's Python."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    @staticmethod
    def from_docker_image(name: str, image: str, container_registry: Any = None,
                          conda_specification: str | None = None,
                          pip_requirements: str | None = None) -> Environment:
        """An environment on a docker image (v1): user-managed unless a package file is given."""
        if conda_specification and pip_requirements:
            raise ConfigError(Problem("conda_specification", "give either conda_specification or "
                                      "pip_requirements, not both"))
        if conda_specification:
            env = Environment.from_conda_specification(name, conda_specification)
        elif pip_requirements:
            env = Environment.from_pip_requirements(name, pip_requirements)
        else:
            env = Environment(name)
            env.python.user_managed_dependencies = True
        env.docker.base_image = image
        return env

    def clone(self, new_name: str) -> Environment:
        """A deep copy under ``new_name``, without a version."""
        if not new_name:
            raise ConfigError(Problem("name", "clone() needs a non-empty name"))
        env = copy.deepcopy(self)
        env.name = new_name
        env.version = None
        return env

    # -- python protocol ------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Environment) and other._spec_data() == self._spec_data()
                and other._docker_runtime_data() == self._docker_runtime_data())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"


def _from_definition(definition: dict[str, Any], version: int) -> Environment:
    data = {k: v for k, v in definition.items() if k != _DOCKER_RUNTIME_KEY}
    spec = EnvironmentSpec.model_validate({**data, "version": str(version)})
    return Environment._from_spec(spec, definition.get(_DOCKER_RUNTIME_KEY))


def environment_spec_data(environment: Any) -> Any:
    """What a job's ``environment`` reduces to: None for the default environment, the spec
    data of an ``Environment``, or a ``"name[:version]"`` registry reference unchanged."""
    if environment is None:
        return None
    if isinstance(environment, Environment):
        return None if environment._is_default() else environment._spec_data()
    return environment


def split_reference(reference: str) -> tuple[str, str | None]:
    """``"name:version"`` → (name, version); ``"name"`` → (name, None)."""
    name, sep, version = reference.rpartition(":")
    return (name, version or None) if sep else (reference, None)


def resolve_reference(workspace: Workspace, reference: str) -> Environment:
    """The registered environment named by ``"name"`` (latest) or ``"name:version"``."""
    name, version = split_reference(reference)
    return Environment.get(workspace, name, version)


def _requirement_lines(file: Path, seen: frozenset[Path] = frozenset()) -> list[tuple[str | None, str]]:
    """(option, None) or (None, requirement) for each meaningful line of a requirements file."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Problem("file_path", "requirements file not found", file=str(file),
                                  hint="check the path; relative paths are taken from the current folder"))
    out: list[tuple[str | None, str]] = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            include = (file.parent / line.split(None, 1)[1]).resolve()
            if include not in seen:
                out += _requirement_lines(include, seen | {file.resolve()})
        elif line.startswith("-"):
            out.append((line, ""))
        else:
            out.append((None, line))
    return out


def environment_from_file(file: str | os.PathLike[str], name: str | None = None) -> Environment:
    """An environment from a file: a scriptrun environment YAML (keys of ``EnvironmentSpec``),
    a conda environment file (has ``dependencies:``), or a pip requirements file (``.txt``)."""
    from scriptrun.spec.yamlio import load_yaml_with_lines  # a rare path, kept off the agent's start-up

    path = Path(file)
    if path.suffix == ".txt":
        return Environment.from_pip_requirements(name or path.stem, path)
    data, lines = load_yaml_with_lines(path)
    if isinstance(data, dict) and "dependencies" in data:
        return Environment.from_conda_specification(name or str(data.get("name") or path.stem), path)
    if not isinstance(data, dict):
        raise ConfigError(Problem("", "expected a mapping of environment keys", file=str(path), line=1))
    spec = validate_model(EnvironmentSpec, {**data, "name": name or data.get("name") or path.stem},
                          file=str(path), lines=lines)
    return Environment._from_spec(spec)
