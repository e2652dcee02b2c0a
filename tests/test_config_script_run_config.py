"""ScriptRunConfig: the new and the legacy (run_config + mutation) forms reduce to equal JobSpecs."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from scriptrun.config import (
    DockerConfiguration,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
    prepare_job,
)
from scriptrun.environment import Environment
from scriptrun.errors import ConfigError
from scriptrun.runs.experiment import _SUBMIT_FUNCTIONS
from scriptrun.spec import EnvironmentSpec, MpiSpec, ParallelTaskSpec, PyTorchSpec, TensorflowSpec
from scriptrun.workspace import Workspace


class ComputeTarget:
    """Stands in for a v1 ComputeTarget object: only ``.name`` is read."""

    def __init__(self, name: str):
        self.name = name


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text("print('hi')\n")
    return tmp_path


def _env() -> Environment:
    env = Environment("pt-env")
    env.python.user_managed_dependencies = True
    env.environment_variables = {"A": "1"}
    return env


def test_seed_current_example_mutation_equals_new_form(project: Path) -> None:
    legacy = ScriptRunConfig(source_directory=str(project), script="train.py", arguments=["--num_epochs", "30"],
                             run_config=RunConfiguration(framework="python", communicator="Mpi"))
    legacy.run_config.environment = _env()
    legacy.run_config.node_count = 2
    legacy.run_config.target = ComputeTarget("gpu-cluster")
    legacy.run_config.environment_variables["X"] = "y"

    new = ScriptRunConfig(str(project), "train.py", ["--num_epochs", "30"], compute_target="gpu-cluster",
                          environment=_env(), distributed_job_config=MpiConfiguration(), node_count=2)
    new.run_config.environment_variables["X"] = "y"

    spec = legacy.to_job_spec()
    assert spec == new.to_job_spec()
    assert spec.distributed_job_config == MpiSpec(process_count_per_node=1)
    assert spec.node_count == 2
    assert spec.compute_target == "gpu-cluster"
    assert spec.environment_variables == {"X": "y"}
    assert isinstance(spec.environment, EnvironmentSpec) and spec.environment.name == "pt-env"


def test_v1_positional_order(project: Path) -> None:
    rc = RunConfiguration()
    src = ScriptRunConfig(str(project), "train.py", ["--x", "1"], rc)
    assert src.run_config is rc
    assert src.to_job_spec().arguments == ["--x", "1"]


def test_legacy_mutation_is_read_at_submission(project: Path) -> None:
    src = ScriptRunConfig(str(project), script="train.py", run_config=RunConfiguration())
    first = src.to_job_spec()
    src.run_config.node_count = 3
    src.run_config.mpi.process_count_per_node = 2
    src.run_config.communicator = "IntelMpi"
    second = src.to_job_spec()
    assert first.node_count == 1 and first.distributed_job_config is None
    assert second.node_count == 3 and second.distributed_job_config == MpiSpec(process_count_per_node=2)
    # the spec is a copy: later mutation does not reach it
    src.run_config.environment_variables["LATE"] = "1"
    assert "LATE" not in second.environment_variables


def test_default_environment_and_none_reduce_to_the_same_spec(project: Path) -> None:
    a = ScriptRunConfig(str(project), "train.py").to_job_spec()
    b = ScriptRunConfig(str(project), "train.py", environment=Environment("default-environment")).to_job_spec()
    c = ScriptRunConfig(str(project), "train.py", run_config=RunConfiguration()).to_job_spec()
    assert a == b == c
    assert a.environment is None


@pytest.mark.parametrize(("config", "node_count", "expected"), [
    (MpiConfiguration(process_count_per_node=4, node_count=2), 2, MpiSpec(process_count_per_node=4)),
    (PyTorchConfiguration("Gloo", process_count=4, node_count=2), 2,
     PyTorchSpec(communication_backend="gloo", process_count=4)),
    (TensorflowConfiguration(worker_count=3, parameter_server_count=0), 3,
     TensorflowSpec(worker_count=3, parameter_server_count=0)),
    (ParallelTaskConfiguration(worker_count_per_node=2, max_retries_per_worker=1, terminal_exit_codes=[3]), 1,
     ParallelTaskSpec(worker_count_per_node=2, max_retries_per_worker=1, terminal_exit_codes=[3])),
])
def test_distributed_configs_map_to_spec_and_node_count(project: Path, config, node_count, expected) -> None:
    spec = ScriptRunConfig(str(project), "train.py", distributed_job_config=config).to_job_spec()
    assert spec.distributed_job_config == expected
    assert spec.node_count == node_count


@pytest.mark.parametrize(("framework", "communicator", "section", "expected"), [
    ("Python", "OpenMpi", "mpi", MpiSpec()),
    ("python", "intelmpi", "mpi", MpiSpec()),
    ("PyTorch", "nccl", "pytorch", PyTorchSpec(communication_backend="nccl")),
    ("TensorFlow", "ParameterServer", "tensorflow", TensorflowSpec()),
    ("Python", "ParallelTask", "paralleltask", ParallelTaskSpec()),
    ("Python", "None", None, None),
])
def test_legacy_communicators(project: Path, framework, communicator, section, expected) -> None:
    rc = RunConfiguration(framework=framework, communicator=communicator)
    assert ScriptRunConfig(str(project), "train.py", run_config=rc).to_job_spec().distributed_job_config == expected


def test_legacy_pytorch_equals_new_pytorch(project: Path) -> None:
    rc = RunConfiguration(framework="PyTorch", communicator="Gloo")
    rc.pytorch.process_count = 4
    rc.node_count = 2
    legacy = ScriptRunConfig(str(project), "train.py", run_config=rc)
    new = ScriptRunConfig(str(project), "train.py", distributed_job_config=PyTorchConfiguration("gloo", 4, 2))
    assert legacy.to_job_spec() == new.to_job_spec()


def test_job_config_is_an_alias(project: Path) -> None:
    a = ScriptRunConfig(str(project), "train.py", job_config=MpiConfiguration(2))
    b = ScriptRunConfig(str(project), "train.py", distributed_job_config=MpiConfiguration(2))
    assert a.to_job_spec() == b.to_job_spec()
    assert a.job_config == MpiConfiguration(2)


def test_string_arguments_are_shell_split(project: Path) -> None:
    src = ScriptRunConfig(str(project), "train.py", arguments="--lr 0.1 --name 'a b'")
    assert src.arguments == ["--lr", "0.1", "--name", "a b"]


def test_compute_target_object_reduces_to_name(project: Path) -> None:
    src = ScriptRunConfig(str(project), "train.py", compute_target=ComputeTarget("cpu"))
    assert src.compute_target == "cpu"
    assert src.to_job_spec().compute_target == "cpu"


def test_docker_runtime_config_only_when_changed(project: Path) -> None:
    default = ScriptRunConfig(str(project), "train.py", docker_runtime_config=DockerConfiguration())
    assert default.to_job_spec().docker_runtime_config is None
    changed = ScriptRunConfig(str(project), "train.py", docker_runtime_config=DockerConfiguration(shm_size="8g"))
    assert changed.to_job_spec().docker_runtime_config.shm_size == "8g"


def test_deprecated_environment_docker_fields_apply_without_docker_runtime_config(project: Path) -> None:
    env = Environment("dock")
    env.docker.enabled = True
    spec = ScriptRunConfig(str(project), "train.py", environment=env).to_job_spec()
    assert spec.docker_runtime_config is not None and spec.docker_runtime_config.use_docker


def test_run_config_with_overrides_warns_and_ignores(project: Path) -> None:
    with pytest.warns(UserWarning) as record:
        src = ScriptRunConfig(str(project), "train.py", run_config=RunConfiguration(), compute_target="gpu",
                              environment=_env(), max_run_duration_seconds=10)
    message = str(record[0].message)
    for name in ("compute_target", "environment", "max_run_duration_seconds"):
        assert name in message
    spec = src.to_job_spec()
    assert spec.compute_target == "local" and spec.environment is None and spec.max_run_duration_seconds == 2592000


def test_script_and_arguments_from_run_config_are_copied(project: Path) -> None:
    rc = RunConfiguration(script="train.py", arguments=["--a", "1"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src = ScriptRunConfig(str(project), run_config=rc)
    assert src.script == "train.py" and src.arguments == ["--a", "1"]


def test_script_in_both_warns_and_constructor_wins(project: Path) -> None:
    (project / "other.py").write_text("")
    with pytest.warns(UserWarning, match="script"):
        src = ScriptRunConfig(str(project), "train.py", run_config=RunConfiguration(script="other.py"))
    assert src.to_job_spec().script == "train.py"


def test_submit_function_is_registered() -> None:
    assert ScriptRunConfig in _SUBMIT_FUNCTIONS


def test_submit_rejects_unknown_keyword(project: Path) -> None:
    ws = Workspace.create(project)
    with pytest.raises(TypeError, match="bogus"):
        _SUBMIT_FUNCTIONS[ScriptRunConfig](ScriptRunConfig(str(project), "train.py"), ws, "exp", bogus=1)


def test_prepare_job_resolves_registered_environment(project: Path) -> None:
    ws = Workspace.create(project)
    registered = _env().register(ws)
    for reference in ("pt-env", "pt-env:1"):
        spec = prepare_job(ScriptRunConfig(str(project), "train.py", environment=reference), ws)
        assert spec.environment == registered._to_spec()
    assert spec.source_directory == str(project)


def test_prepare_job_reports_unknown_environment(project: Path) -> None:
    ws = Workspace.create(project)
    _env().register(ws)
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(project), "train.py", environment="pt-evn"), ws)
    assert info.value.paths() == ["environment"]
    assert "did you mean `pt-env`" in str(info.value)


def test_source_directory_is_made_absolute(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    assert ScriptRunConfig(".", "train.py").to_job_spec().source_directory == str(project)


def test_import_scriptrun_config_stays_light() -> None:
    code = ("import sys, scriptrun, scriptrun.config, scriptrun.environment; "
            "print(any(m in sys.modules for m in ('mlflow', 'ray')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
