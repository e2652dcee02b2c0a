"""The v1 ``.runconfig`` YAML format: where files are looked up, how keys are read and written.

Keys are camelCase on write; camelCase or snake_case on read. Unknown keys and wrongly
typed values are reported together, each with the file, line and a "did you mean".
``environment`` may be a mapping or the path of a YAML file holding one;
``environment.python.condaDependenciesFile`` names a conda file loaded into
``environment.python.conda_dependencies``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import yaml

from scriptrun.config.distributed import (
    DockerConfiguration,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    TensorflowConfiguration,
)
from scriptrun.environment.conda import CondaDependencies
from scriptrun.environment.environment import DockerSection, Environment, PythonSection
from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.problems import Loc, did_you_mean, format_path
from scriptrun.spec.yamlio import load_yaml_with_lines

if TYPE_CHECKING:  # runconfig.py's RunConfiguration.load/save call this module
    from scriptrun.config.runconfig import RunConfiguration

CONFIG_DIRS = ("aml_config", ".azureml")  # aml_config wins when it exists, as in v1
CONDA_FILE = "conda_dependencies.yml"
ENVIRONMENT_FILE = "environment.yml"

# Value kinds: a tuple of accepted types (None allowed when listed), a nested schema, or ANY.
ANY = object()
INT, OPT_INT = (int,), (int, type(None))
STR, OPT_STR = (str,), (str, type(None))
BOOL, LIST, OPT_LIST, DICT = (bool,), (list,), (list, type(None)), (dict, type(None))

_ENVIRONMENT = {
    "name": OPT_STR, "version": (str, int, type(None)), "environment_variables": DICT,
    "python": {"user_managed_dependencies": BOOL, "interpreter_path": OPT_STR,
               "conda_dependencies_file": OPT_STR, "conda_dependencies": ANY, "base_conda_environment": ANY},
    "docker": {"enabled": BOOL, "base_image": OPT_STR, "base_dockerfile": OPT_STR, "build_context": ANY,
               "base_image_registry": ANY, "platform": ANY, "shared_volumes": BOOL, "shm_size": OPT_STR,
               "arguments": OPT_LIST, "gpu_support": ANY},
    "spark": ANY, "databricks": ANY, "r": ANY, "inferencing_stack_version": ANY, "asset_id": ANY,
}
_SECTIONS: dict[str, dict[str, Any]] = {
    "history": {"output_collection": BOOL, "snapshot_project": BOOL, "directories_to_watch": OPT_LIST,
                "ambient_authentication": ANY},
    "spark": {"configuration": DICT},
    "docker": {"use_docker": BOOL, "shared_volumes": BOOL, "arguments": OPT_LIST, "shm_size": STR},
    "hdi": {"yarn_deploy_mode": STR},
    "tensorflow": {"worker_count": INT, "parameter_server_count": INT},
    "mpi": {"process_count_per_node": INT, "node_count": INT},
    "pytorch": {"communication_backend": STR, "process_count": OPT_INT, "node_count": INT},
    "paralleltask": {"max_retries_per_worker": INT, "worker_count_per_node": INT, "terminal_exit_codes": OPT_LIST},
    "amlcompute": {"vm_size": ANY, "vm_priority": ANY, "retain_cluster": ANY, "name": ANY,
                   "cluster_max_node_count": ANY},
    "kubernetescompute": {"instance_type": ANY},
}
_TOP: dict[str, Any] = {
    "script": OPT_STR, "arguments": (list, str, type(None)), "target": STR, "framework": STR,
    "communicator": STR, "max_run_duration_seconds": OPT_INT, "node_count": INT, "priority": ANY,
    "environment": (dict, str, type(None)), **_SECTIONS, "data_references": DICT, "data": DICT,
    "datacaches": OPT_LIST, "output_data": DICT, "source_directory_data_store": OPT_STR,
    "auto_cluster_compute_specification": ANY, "credential_passthrough": BOOL,
    "command": (str, list, type(None)), "environment_variables": DICT, "application_endpoints": DICT,
}
_SECTION_CLASSES = {"docker": DockerConfiguration, "tensorflow": TensorflowConfiguration, "mpi": MpiConfiguration,
                    "pytorch": PyTorchConfiguration, "paralleltask": ParallelTaskConfiguration}


def snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


# -- lookup -------------------------------------------------------------------------------


def find_runconfig(path: str | os.PathLike[str], name: str | None = None) -> tuple[Path, Path]:
    """The runconfig file for ``path``/``name`` and the folder relative paths start from."""
    base = Path(path)
    if base.is_file():
        return base, base.parent
    if name is None:
        candidates = [base.with_name(base.name + ".runconfig")]
    else:
        candidates = [base / d / n for n in (name, f"{name}.runconfig") for d in CONFIG_DIRS]
        candidates.append(base / f"{name}.runconfig")
    for candidate in candidates:
        if candidate.is_file():
            return candidate, (base if name is not None else candidate.parent)
    raise ConfigError(Problem("run_config", f"no run configuration found for path={str(path)!r} name={name!r}",
                              hint="looked for " + ", ".join(str(c) for c in candidates)))


# -- load ---------------------------------------------------------------------------------


class _Reader:
    """Normalises one file's keys to snake_case, collecting problems with file and line."""

    def __init__(self, file: Path):
        self.file = str(file)
        self.data, self.lines = load_yaml_with_lines(file)
        self.problems: list[Problem] = []

    def problem(self, loc: Loc, message: str, hint: str | None = None) -> None:
        line = self.lines.get(loc) or self.lines.get(loc[:-1])
        self.problems.append(Problem(format_path(loc), message, hint=hint, file=self.file, line=line))

    def read(self, value: Any, kind: Any, loc: Loc) -> Any:
        if kind is ANY or value is None and isinstance(kind, dict):
            return value
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                self.problem(loc, f"expected a mapping, got {value!r}")
                return None
            out = {}
            for key, item in value.items():
                field = snake(str(key))
                if field not in kind:
                    names = list(kind) if "_" in str(key) else [camel(k) for k in kind]
                    self.problem(loc + (key,), "unknown key", did_you_mean(str(key), names))
                    continue
                out[field] = self.read(item, kind[field], loc + (key,))
            return out
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kind):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in kind)
            self.problem(loc, f"expected {wanted}, got {value!r}")
            return None
        return value


def load_runconfig(path: str | os.PathLike[str], name: str | None, cls: type[RunConfiguration]) -> RunConfiguration:
    file, base = find_runconfig(path, name)
    reader = _Reader(file)
    data = reader.data or {}
    fields = reader.read(data, _TOP, ())
    if fields is None:
        fields = {}
    env_value = fields.pop("environment", None)
    environment: Any = None
    if isinstance(env_value, str):
        env_file = _resolve(env_value, base, file.parent)
        if env_file is None:
            environment = env_value  # not a file: a registered environment "name[:version]"
        else:
            env_reader = _Reader(env_file)
            env_data = env_reader.read(env_reader.data or {}, _ENVIRONMENT, ())
            environment = _environment(env_data or {}, base, env_file.parent, env_reader, ())
            reader.problems += env_reader.problems
    elif isinstance(env_value, dict):
        key = next(k for k in data if snake(str(k)) == "environment")
        env_data = reader.read(env_value, _ENVIRONMENT, (key,))
        environment = _environment(env_data or {}, base, file.parent, reader, (key,))
    rc = _build(cls(), fields, reader)
    if reader.problems:
        raise ConfigError(reader.problems)
    if environment is not None:
        rc.environment = environment
    rc._path, rc._name = str(path), name
    return rc


def _resolve(relative: str, *bases: Path) -> Path | None:
    if os.path.isabs(relative):
        return Path(relative) if Path(relative).is_file() else None
    for base in bases:
        if (base / relative).is_file():
            return base / relative
    return None


def _environment(data: dict[str, Any], base: Path, here: Path, reader: _Reader, loc: Loc) -> Environment:
    env = Environment(data.get("name"))
    version = data.get("version")
    env.version = str(version) if version is not None else None
    env.environment_variables = {str(k): v for k, v in (data.get("environment_variables") or {}).items()}
    python = data.get("python") or {}
    conda = None
    if python.get("conda_dependencies") is not None:
        conda = CondaDependencies(_underlying_structure=python["conda_dependencies"])
    elif python.get("conda_dependencies_file"):
        conda_file = _resolve(python["conda_dependencies_file"], base, here)
        if conda_file is None:
            reader.problem(loc + ("python", "condaDependenciesFile"),
                           f"conda dependencies file {python['conda_dependencies_file']!r} not found",
                           hint=f"paths are relative to {base}")
        else:
            conda = CondaDependencies(conda_file)
    env.python = PythonSection(python.get("user_managed_dependencies", False), python.get("interpreter_path"),
                               conda)
    docker = data.get("docker") or {}
    if docker.get("build_context"):
        reader.problem(loc + ("docker", "buildContext"), "docker build contexts are not supported",
                       hint="build the image yourself and set `baseImage`")
    env.docker = DockerSection(docker.get("base_image"), docker.get("base_dockerfile"),
                               enabled=docker.get("enabled", False), shared_volumes=docker.get("shared_volumes", True),
                               shm_size=docker.get("shm_size") or "2g", arguments=docker.get("arguments"))
    return env


def _build(rc: RunConfiguration, fields: dict[str, Any], reader: _Reader) -> RunConfiguration:
    for name, value in fields.items():
        if name in _SECTION_CLASSES:
            kwargs = {k: v for k, v in (value or {}).items() if v is not None or k == "process_count"}
            try:
                section = _SECTION_CLASSES[name](**kwargs)
            except ConfigError as exc:  # PyTorch backend name
                reader.problems += [Problem(f"{name}.{p.path}", p.message, p.hint, reader.file,
                                            reader.lines.get((name,))) for p in exc.problems]
                continue
            setattr(rc, name, section)
        elif name in _SECTIONS:
            getattr(rc, name).__dict__.update({k: v for k, v in (value or {}).items()})
        elif name == "application_endpoints":
            rc.services = dict(value or {})
        elif name == "target":
            rc.target = value
        elif value is not None or name in ("script", "command", "max_run_duration_seconds"):
            setattr(rc, name, value)
    if rc.command == "":
        rc.command = None
    return rc


# -- save ---------------------------------------------------------------------------------


def save_runconfig(rc: RunConfiguration, path: str | os.PathLike[str] | None, name: str | None,
                   separate_environment_yaml: bool) -> str:
    target = Path(path if path is not None else rc._path or os.getcwd())
    name = name or rc._name
    if target.is_dir():
        if not name:
            raise ConfigError(Problem("name", "a name is needed to save into a project folder",
                                      hint="RunConfiguration.save(path, name='local')"))
        cfg_dir = target / ("aml_config" if (target / "aml_config").is_dir() else ".azureml")
        file, base, prefix = cfg_dir / name, target, f"{cfg_dir.name}/"
    else:
        file, base, prefix = target, target.parent, ""
    file.parent.mkdir(parents=True, exist_ok=True)
    env = _environment_dict(rc.environment, base, prefix)
    if separate_environment_yaml and isinstance(env, dict):
        (base / (prefix + ENVIRONMENT_FILE)).write_text(yaml.safe_dump(env, sort_keys=False), encoding="utf-8")
        env = prefix + ENVIRONMENT_FILE
    file.write_text(yaml.safe_dump(_runconfig_dict(rc, env), sort_keys=False), encoding="utf-8")
    rc._path, rc._name = (str(target), name)
    return str(file)


def _environment_dict(env: Any, base: Path, prefix: str) -> Any:
    if not isinstance(env, Environment):
        return env
    conda_file = None
    conda = env.python.conda_dependencies
    if conda is not None:
        conda_file = prefix + CONDA_FILE
        conda.save(base / conda_file)
    docker = env.docker
    return {
        "name": env.name, "version": env.version, "environmentVariables": dict(env.environment_variables),
        "python": {"userManagedDependencies": env.python.user_managed_dependencies,
                   "interpreterPath": env.python.interpreter_path, "condaDependenciesFile": conda_file},
        "docker": {"enabled": docker.enabled, "baseImage": docker.base_image,
                   "baseDockerfile": docker.base_dockerfile, "sharedVolumes": docker.shared_volumes,
                   "shmSize": docker.shm_size, "arguments": list(docker.arguments)},
    }


def _runconfig_dict(rc: RunConfiguration, environment: Any) -> dict[str, Any]:
    def section(name: str, value: Any) -> Any:
        if isinstance(value, SimpleNamespace) or hasattr(value, "_values"):
            items = value._values() if hasattr(value, "_values") else vars(value)
            return {camel(k): v for k, v in items.items() if k in _SECTIONS[name]}  # v1's keys only
        return value

    command = rc.command
    return {
        "script": rc.script, "arguments": rc.arguments, "target": rc.target, "framework": rc.framework,
        "communicator": rc.communicator, "maxRunDurationSeconds": rc.max_run_duration_seconds,
        "nodeCount": rc.node_count, "priority": rc.priority, "environment": environment,
        **{camel(name): section(name, getattr(rc, name)) for name in _SECTIONS},
        "dataReferences": rc.data_references, "data": rc.data, "datacaches": rc.datacaches,
        "outputData": rc.output_data, "sourceDirectoryDataStore": rc.source_directory_data_store,
        "autoClusterComputeSpecification": rc.auto_cluster_compute_specification,
        "credentialPassthrough": rc.credential_passthrough,
        "command": command if command is not None else "",
        "environmentVariables": dict(rc.environment_variables), "applicationEndpoints": rc.services,
    }
