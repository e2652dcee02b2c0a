"""Every validation rule of the builders names the field at fault (and hints at the fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriptrun.config import (
    MpiConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
    prepare_job,
)
from scriptrun.environment import CondaDependencies, Environment
from scriptrun.errors import ConfigError
from scriptrun.workspace import AssetRegistry, Workspace


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text("print('hi')\n")
    (tmp_path / "evaluate.py").write_text("")
    return tmp_path


@pytest.fixture
def ws(project: Path) -> Workspace:
    return Workspace.create(project)


def _problems(excinfo: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.path: p.render() for p in excinfo.value.problems}


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# -- entry point ----------------------------------------------------------------------------


def test_script_and_command_both_given(project: Path) -> None:
    src = ScriptRunConfig(str(project), script="train.py", command="python train.py")
    with pytest.raises(ConfigError) as info:
        src.to_job_spec()
    assert info.value.paths() == ["command"]
    assert "both" in str(info.value)


def test_arguments_with_command(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), command=["python", "train.py"], arguments=["--x"]).to_job_spec()
    assert info.value.paths() == ["arguments"]


def test_neither_script_nor_command(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project)).to_job_spec()
    assert info.value.paths() == ["script"]
    assert "neither" in str(info.value)


def test_non_string_command_items_are_converted(project: Path) -> None:
    spec = ScriptRunConfig(str(project), command=["python", "train.py", "--epochs", 50, "--lr", 0.1]).to_job_spec()
    assert spec.command == ["python", "train.py", "--epochs", "50", "--lr", "0.1"]


def test_command_item_of_wrong_type(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), command=["python", {"x": 1}])
    assert info.value.paths() == ["command[1]"]


# -- source directory and script -------------------------------------------------------------


def test_missing_source_directory_argument() -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(None, "train.py")  # type: ignore[arg-type]
    assert info.value.paths() == ["source_directory"]


def test_source_directory_wrong_type() -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(42, "train.py")  # type: ignore[arg-type]
    assert info.value.paths() == ["source_directory"]


def test_source_directory_does_not_exist(ws: Workspace, project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(project / "nope"), "train.py"), ws)
    assert info.value.paths() == ["source_directory"]
    assert "does not exist" in str(info.value)


def test_script_outside_source_directory(ws: Workspace, project: Path) -> None:
    (project / "sub").mkdir()
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(project / "sub"), "../train.py"), ws)
    assert info.value.paths() == ["script"]
    assert "outside" in str(info.value)


def test_script_missing_hints_nearby_scripts(ws: Workspace, project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(project), "trian.py"), ws)
    problem = info.value.problems[0]
    assert problem.path == "script"
    assert problem.hint == "did you mean `train.py`?"


def test_script_wrong_type(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), script=["train.py"])  # type: ignore[arg-type]
    assert info.value.paths() == ["script"]


# -- counts and durations ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["two", 0, -1, 1.5, True])
def test_bad_node_count(project: Path, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", node_count=value)  # type: ignore[arg-type]
    assert info.value.paths() == ["node_count"]


def test_node_count_set_by_mutation_is_checked(project: Path) -> None:
    src = ScriptRunConfig(str(project), "train.py", run_config=RunConfiguration())
    src.run_config.node_count = 0
    with pytest.raises(ConfigError) as info:
        src.to_job_spec()
    assert info.value.paths() == ["node_count"]


@pytest.mark.parametrize("value", [0, -5, "long"])
def test_bad_max_run_duration(project: Path, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", max_run_duration_seconds=value)  # type: ignore[arg-type]
    assert info.value.paths() == ["max_run_duration_seconds"]


def test_node_count_conflicting_with_distributed_config(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", node_count=3, distributed_job_config=MpiConfiguration(node_count=2))
    assert info.value.paths() == ["node_count"]
    # agreeing values are fine
    ScriptRunConfig(str(project), "train.py", node_count=2, distributed_job_config=MpiConfiguration(node_count=2))


def test_tensorflow_node_count_must_match_worker_count(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", node_count=2,
                        distributed_job_config=TensorflowConfiguration(worker_count=3))
    assert info.value.paths() == ["node_count"]
    assert "worker_count" in str(info.value)


def test_distributed_config_value_set_by_mutation_has_its_path(project: Path) -> None:
    mpi = MpiConfiguration()
    src = ScriptRunConfig(str(project), "train.py", distributed_job_config=mpi)
    mpi.process_count_per_node = 0
    with pytest.raises(ConfigError) as info:
        src.to_job_spec()
    assert info.value.paths() == ["distributed_job_config.process_count_per_node"]


# -- types of the other keywords --------------------------------------------------------


def test_distributed_job_config_wrong_type(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", distributed_job_config="mpi")
    problem = info.value.problems[0]
    assert problem.path == "distributed_job_config"
    for name in ("MpiConfiguration", "PyTorchConfiguration", "TensorflowConfiguration", "ParallelTaskConfiguration"):
        assert name in problem.hint


def test_job_config_and_distributed_job_config_both(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", distributed_job_config=MpiConfiguration(),
                        job_config=MpiConfiguration())
    assert info.value.paths() == ["job_config"]


def test_pytorch_backend_must_be_nccl_or_gloo() -> None:
    assert PyTorchConfiguration("GLOO").communication_backend == "gloo"
    with pytest.raises(ConfigError) as info:
        PyTorchConfiguration("mpi")
    assert info.value.paths() == ["communication_backend"]


def test_run_config_wrong_type_hints_load(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", run_config="local")  # type: ignore[arg-type]
    problem = info.value.problems[0]
    assert problem.path == "run_config"
    assert "RunConfiguration.load" in problem.hint


def test_unknown_framework_and_communicator(project: Path) -> None:
    rc = RunConfiguration(framework="Pyhton", communicator="OpenMPII")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", run_config=rc).to_job_spec()
    problems = _problems(info)
    assert set(problems) == {"run_config.framework", "run_config.communicator"}
    assert "did you mean `Python`" in problems["run_config.framework"]
    assert "did you mean `OpenMpi`" in problems["run_config.communicator"]


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"inputs": ["some-dataset"]}, "inputs[0]", "expected a dataset input"),
    ({"resume_from": "datastore/checkpoints"}, "resume_from", "expected a DataPath"),
])
def test_data_fields_of_the_wrong_type(project: Path, kwargs: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(project), "train.py", **kwargs)
    assert info.value.paths() == [field]
    assert message in str(info.value)


def test_run_config_data_entry_must_be_data(project: Path) -> None:
    src = ScriptRunConfig(str(project), "train.py", run_config=RunConfiguration())
    src.run_config.data["cifar"] = {"mechanism": "mount"}
    src.run_config.data_references["ref"] = {"dataStoreName": "x"}
    with pytest.raises(ConfigError) as info:
        src.to_job_spec()
    assert info.value.paths() == ["run_config.data_references", "run_config.data.cifar"]
    assert "inputs=" in info.value.problems[0].hint


def test_several_problems_reported_at_once(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(42, script=3, node_count="two", max_run_duration_seconds=0,  # type: ignore[arg-type]
                        distributed_job_config="mpi", environment=3.5)
    assert set(info.value.paths()) == {"source_directory", "script", "node_count", "max_run_duration_seconds",
                                       "distributed_job_config", "environment"}
    assert "(6 problems)" in info.value.headline


def test_several_submit_problems_reported_at_once(ws: Workspace, project: Path) -> None:
    src = ScriptRunConfig(str(project), "trian.py", compute_target="gpu-clster")
    with pytest.raises(ConfigError) as info:
        prepare_job(src, ws)
    assert set(info.value.paths()) == {"script", "compute_target"}


# -- workspace-dependent rules -------------------------------------------------------------


def test_unknown_compute_target_did_you_mean(ws: Workspace, project: Path) -> None:
    AssetRegistry(ws, "compute").register("gpu-cluster", {"type": "ray", "address": "auto"})
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(project), "train.py", compute_target="gpu-clustr"), ws)
    problem = info.value.problems[0]
    assert problem.path == "compute_target"
    assert problem.hint == "did you mean `gpu-cluster`?"
    with pytest.raises(ConfigError, match="unknown compute target type 'ray'"):  # found, but of no known kind
        prepare_job(ScriptRunConfig(str(project), "train.py", compute_target="gpu-cluster"), ws)


def test_pip_package_list_passes_prepare_job(ws: Workspace, project: Path) -> None:
    env = Environment("with-packages")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy"])
    spec = prepare_job(ScriptRunConfig(str(project), "train.py", environment=env), ws)
    assert spec.environment.python.conda_dependencies.pip_packages == ["numpy"]


def test_user_managed_environment_with_packages_passes(ws: Workspace, project: Path) -> None:
    env = Environment("managed")
    env.python.user_managed_dependencies = True
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy"])
    assert prepare_job(ScriptRunConfig(str(project), "train.py", environment=env), ws).environment.name == "managed"
