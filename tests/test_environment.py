"""Environment: defaults, spec conversion, and registry versioning in a real workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriptrun.environment import CondaDependencies, Environment
from scriptrun.errors import ConfigError, WorkspaceError
from scriptrun.spec import EnvironmentSpec
from scriptrun.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path)


def _env(name: str = "train-env") -> Environment:
    env = Environment(name)
    env.environment_variables = {"A": "1"}
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = "/usr/bin/python3"
    return env


def test_defaults() -> None:
    env = Environment("x")
    assert env.version is None
    assert env.environment_variables == {}  # not v1's EXAMPLE_ENV_VAR
    assert env.python.user_managed_dependencies is False
    assert env.python.interpreter_path is None and env.python.conda_dependencies is None
    assert env.docker.base_image is None and env.docker.base_dockerfile is None
    assert env.docker.enabled is False and env.docker.shm_size == "2g"


def test_name_must_be_a_string() -> None:
    with pytest.raises(ConfigError) as info:
        Environment(3)  # type: ignore[arg-type]
    assert info.value.paths() == ["name"]


def test_spec_round_trip() -> None:
    env = _env()
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy"], conda_packages=["mkl"],
                                                             python_version="3.11")
    env.docker.base_image = "python:3.11-slim"
    spec = env._to_spec()
    assert isinstance(spec, EnvironmentSpec)
    assert spec.python.conda_dependencies.pip_packages == ["numpy"]
    assert spec.docker.base_image == "python:3.11-slim"
    assert Environment._from_spec(spec) == env


def test_base_image_and_dockerfile_are_exclusive() -> None:
    env = Environment("d")
    env.docker.base_image = "python:3.11"
    with pytest.warns(UserWarning, match="base_image"):
        env.docker.base_dockerfile = "FROM python:3.11\n"
    assert env.docker.base_image is None


def test_default_environment_is_default() -> None:
    assert Environment("default-environment")._is_default()
    assert not _env("default-environment")._is_default()
    assert not Environment("other")._is_default()


def test_register_get_versions(ws: Workspace) -> None:
    first = _env().register(ws)
    assert first.version == "1" and first.name == "train-env"
    assert _env().register(ws).version == "1"  # identical definition → existing version

    changed = _env()
    changed.environment_variables["B"] = "2"
    second = changed.register(ws)
    assert second.version == "2"

    assert Environment.get(ws, "train-env").version == "2"
    assert Environment.get(ws, "train-env", version="1") == first
    assert Environment.get(ws, "train-env", version=2).environment_variables == {"A": "1", "B": "2"}
    assert Environment.get(ws, "train-env", label="latest").version == "2"
    assert _env().register(ws).version == "1"  # an older identical definition is found again


def test_register_keeps_package_lists_and_deprecated_docker_fields(ws: Workspace) -> None:
    env = _env()
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy==2.0"])
    with pytest.warns(DeprecationWarning):
        env.docker.enabled = True
        env.docker.shm_size = "8g"
    got = Environment.get(ws, env.register(ws).name)
    assert got.python.conda_dependencies.pip_packages == ["numpy==2.0"]
    assert got.docker.enabled is True and got.docker.shm_size == "8g"


def test_list(ws: Workspace) -> None:
    _env("a-env").register(ws)
    _env("b-env").register(ws)
    changed = _env("b-env")
    changed.environment_variables = {}
    changed.register(ws)
    listed = Environment.list(ws)
    assert sorted(listed) == ["a-env", "b-env", "scriptrun-minimal", "scriptrun-pytorch-cpu", "scriptrun-sklearn"]
    assert listed["b-env"].version == "2"  # curated environments are listed too (issue 3)


def test_get_unknown_name_did_you_mean(ws: Workspace) -> None:
    _env().register(ws)
    with pytest.raises(WorkspaceError, match="did you mean `train-env`"):
        Environment.get(ws, "trian-env")


def test_get_unknown_version(ws: Workspace) -> None:
    _env().register(ws)
    with pytest.raises(WorkspaceError, match="no version 7"):
        Environment.get(ws, "train-env", version="7")


def test_get_version_and_label_both(ws: Workspace) -> None:
    with pytest.raises(ConfigError) as info:
        Environment.get(ws, "train-env", version="1", label="prod")
    assert info.value.paths() == ["label"]


def test_register_needs_a_name(ws: Workspace) -> None:
    with pytest.raises(ConfigError):
        Environment(None).register(ws)


def test_clone_resets_version(ws: Workspace) -> None:
    registered = _env().register(ws)
    clone = registered.clone("copy")
    assert clone.name == "copy" and clone.version is None
    assert clone.environment_variables == registered.environment_variables


def test_conda_dependencies_mutators(tmp_path: Path) -> None:
    deps = CondaDependencies.create(pip_packages=["numpy==1.0"], python_version="3.10")
    deps.add_pip_package("numpy>=2")
    deps.add_conda_package("python=3.11")
    deps.add_conda_package("mkl")
    assert deps.pip_packages == ["numpy>=2"]
    assert deps.conda_packages == ["mkl"] and deps.get_python_version() == "3.11"
    with pytest.raises(ConfigError):
        deps.add_pip_package("--index-url x")
    file = tmp_path / "conda.yml"
    deps.save(file)
    assert CondaDependencies(file) == deps
    assert not CondaDependencies()._to_spec().has_packages()


def test_conda_file_drops_v1_runtime_package(tmp_path: Path) -> None:
    file = tmp_path / "conda.yml"
    file.write_text("name: project_environment\ndependencies:\n- python=3.8.13\n- pip:\n  - azureml-defaults\n"
                    "channels:\n- anaconda\n")
    deps = CondaDependencies(file)
    assert deps.pip_packages == [] and deps.get_python_version() == "3.8.13"
    assert deps.conda_channels == ["anaconda"]


def test_conda_file_unknown_key(tmp_path: Path) -> None:
    file = tmp_path / "conda.yml"
    file.write_text("name: x\ndependecies: []\n")
    with pytest.raises(ConfigError, match="did you mean `dependencies`"):
        CondaDependencies(file)
