"""ScriptRunConfig YAML: to_yaml → from_yaml gives an equal JobSpec; problems point at file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriptrun.config import (
    DockerConfiguration,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
    prepare_job,
)
from scriptrun.environment import CondaDependencies, Environment
from scriptrun.errors import ConfigError
from scriptrun.workspace import Workspace


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    return tmp_path


def _env() -> Environment:
    env = Environment("my-env")
    env.environment_variables = {"OMP_NUM_THREADS": "1"}
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = "/usr/bin/python3"
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy>=1.26"], python_version="3.11")
    return env


@pytest.mark.parametrize("distributed", [
    None,
    MpiConfiguration(process_count_per_node=4, node_count=2),
    PyTorchConfiguration("gloo", process_count=8, node_count=2),
    TensorflowConfiguration(worker_count=2, parameter_server_count=1),
    ParallelTaskConfiguration(worker_count_per_node=3, terminal_exit_codes=[2]),
])
def test_to_yaml_from_yaml_round_trip(project: Path, distributed) -> None:
    src = ScriptRunConfig(str(project / "src"), "train.py", ["--lr", 0.1, "--flag", True, "--n", 3],
                          compute_target="local", environment=_env(), distributed_job_config=distributed,
                          max_run_duration_seconds=600, docker_runtime_config=DockerConfiguration(shm_size="4g"))
    src.run_config.environment_variables["X"] = "y"
    file = project / "jobs" / "job.yml"
    text = src.to_yaml(file)
    assert "source_directory: ../src" in text
    again = ScriptRunConfig.from_yaml(file)
    assert again.to_job_spec() == src.to_job_spec()
    # and a second round trip writes the same text
    assert again.to_yaml(project / "jobs" / "job2.yml") == text


def test_round_trip_with_command_and_environment_reference(project: Path) -> None:
    src = ScriptRunConfig(str(project / "src"), command=["python", "train.py", "--epochs", 5], environment="my-env:2")
    file = project / "job.yml"
    src.to_yaml(file)
    spec = ScriptRunConfig.from_yaml(file).to_job_spec()
    assert spec == src.to_job_spec()
    assert spec.command == ["python", "train.py", "--epochs", "5"] and spec.environment == "my-env:2"


def test_from_yaml_hand_written(project: Path) -> None:
    file = project / "job.yml"
    file.write_text("source_directory: src\nscript: train.py\narguments: [--lr, 0.01]\nnode_count: 2\n"
                    "distributed_job_config:\n  type: mpi\n  process_count_per_node: 2\n")
    src = ScriptRunConfig.from_yaml(file)
    expected = ScriptRunConfig(str(project / "src"), "train.py", ["--lr", 0.01],
                               distributed_job_config=MpiConfiguration(2), node_count=2)
    assert src.to_job_spec() == expected.to_job_spec()


def test_unknown_key_did_you_mean_with_file_and_line(project: Path) -> None:
    file = project / "job.yml"
    file.write_text("source_directory: src\nscript: train.py\nnode_cuont: 2\n")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig.from_yaml(file)
    problem = info.value.problems[0]
    assert (problem.path, problem.file, problem.line) == ("node_cuont", str(file), 3)
    assert problem.hint == "did you mean `node_count`?"


def test_nested_unknown_key_has_its_line(project: Path) -> None:
    file = project / "job.yml"
    file.write_text("source_directory: src\nscript: train.py\ndistributed_job_config:\n  type: mpi\n"
                    "  process_count_per_nod: 2\n")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig.from_yaml(file)
    problem = info.value.problems[0]
    assert problem.path == "distributed_job_config.process_count_per_nod"
    assert problem.line == 5 and problem.hint == "did you mean `process_count_per_node`?"


def test_node_count_two_reports_its_line(project: Path) -> None:
    file = project / "job.yml"
    file.write_text("source_directory: src\nscript: train.py\n\nnode_count: two\n")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig.from_yaml(file)
    problem = info.value.problems[0]
    assert (problem.path, problem.file, problem.line) == ("node_count", str(file), 4)


def test_construction_problem_from_yaml_points_at_file(project: Path) -> None:
    file = project / "job.yml"
    file.write_text("source_directory: src\nscript: train.py\nnode_count: 3\n"
                    "distributed_job_config: {type: tensorflow, worker_count: 2}\n")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig.from_yaml(file)
    problem = info.value.problems[0]
    assert (problem.path, problem.file, problem.line) == ("node_count", str(file), 3)


def test_submit_time_problem_points_at_yaml_line(project: Path) -> None:
    ws = Workspace.create(project)
    file = project / "job.yml"
    file.write_text("source_directory: src\n# the entry point\nscript: trian.py\ncompute_target: gpu\n")
    src = ScriptRunConfig.from_yaml(file)
    with pytest.raises(ConfigError) as info:
        prepare_job(src, ws)
    where = {p.path: (p.file, p.line) for p in info.value.problems}
    assert where == {"script": (str(file), 3), "compute_target": (str(file), 4)}


def test_cross_field_problem_in_yaml_points_at_line(project: Path) -> None:
    file = project / "job.yml"
    file.write_text("source_directory: src\nscript: train.py\ncommand: python train.py\n")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig.from_yaml(file).to_job_spec()
    problem = info.value.problems[0]
    assert (problem.path, problem.file, problem.line) == ("command", str(file), 3)
