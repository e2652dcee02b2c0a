"""RunConfiguration: v1 defaults, the .runconfig file format (save/load), and its reduction."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scriptrun.config import MpiConfiguration, RunConfiguration, ScriptRunConfig
from scriptrun.environment import CondaDependencies, Environment
from scriptrun.errors import ConfigError
from scriptrun.spec import MpiSpec, PyTorchSpec

V1_RUNCONFIG = """\
# written by hand, v1 style
script: train.py
arguments: [--epochs, '30']
target: local
framework: Python
communicator: IntelMpi
maxRunDurationSeconds:
nodeCount: 2
environment:
  name: my-env
  version:
  environmentVariables:
    EXAMPLE_ENV_VAR: EXAMPLE_VALUE
  python:
    userManagedDependencies: false
    interpreterPath: python
    condaDependenciesFile: .azureml/conda_dependencies.yml
    baseCondaEnvironment:
  docker:
    enabled: false
    baseImage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20251130.v1
    baseDockerfile:
    sharedVolumes: true
    shmSize: 2g
    arguments: []
    baseImageRegistry: {address:, username:, password:}
    platform: {os: Linux, architecture: amd64}
  spark: {repositories: [], packages: [], precachePackages: true}
  r:
  inferencingStackVersion:
history: {outputCollection: true, snapshotProject: true, directoriesToWatch: [logs]}
docker: {useDocker: false, sharedVolumes: true, arguments: [], shmSize: 2g}
tensorflow: {workerCount: 1, parameterServerCount: 1}
mpi: {processCountPerNode: 4, nodeCount: 1}
pytorch: {communicationBackend: nccl, processCount:, nodeCount: 1}
paralleltask: {maxRetriesPerWorker: 0, workerCountPerNode: 1, terminalExitCodes:}
dataReferences: {}
data: {}
outputData: {}
sourceDirectoryDataStore:
credentialPassthrough: false
command: ''
environmentVariables:
  MY_Var: keep-case
"""

CONDA = """\
name: project_environment
dependencies:
- python=3.10.18
- pip:
  - azureml-defaults
channels:
- anaconda
- conda-forge
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text("print('hi')\n")
    return tmp_path


def _write_v1(project: Path) -> None:
    (project / ".azureml").mkdir()
    (project / ".azureml" / "x.runconfig").write_text(V1_RUNCONFIG)
    (project / ".azureml" / "conda_dependencies.yml").write_text(CONDA)


def test_v1_defaults() -> None:
    rc = RunConfiguration()
    assert (rc.target, rc.framework, rc.communicator, rc.node_count) == ("local", "Python", "None", 1)
    assert rc.max_run_duration_seconds is None and rc.arguments == [] and rc.environment_variables == {}
    assert rc.environment.name == "default-environment"
    assert rc.docker.shm_size == "2g" and rc.mpi.process_count_per_node == 1
    assert rc.pytorch.communication_backend == "nccl" and rc.paralleltask.terminal_exit_codes is None
    assert rc.history.output_collection is True


def test_target_setter_accepts_objects() -> None:
    class Compute:
        name = "gpu"

    rc = RunConfiguration()
    rc.target = Compute()
    assert rc.target == "gpu"


def test_load_hand_written_v1_file(project: Path) -> None:
    _write_v1(project)
    rc = RunConfiguration.load(str(project), "x")
    assert rc.script == "train.py" and rc.arguments == ["--epochs", "30"]
    assert rc.communicator == "IntelMpi" and rc.node_count == 2 and rc.mpi.process_count_per_node == 4
    assert rc.command is None and rc.max_run_duration_seconds is None
    assert rc.environment_variables == {"MY_Var": "keep-case"}
    env = rc.environment
    assert env.name == "my-env" and env.environment_variables == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
    assert env.python.conda_dependencies.get_python_version() == "3.10.18"
    assert env.python.conda_dependencies.pip_packages == []  # v1's azureml-defaults means nothing here
    assert env.docker.base_image.startswith("mcr.microsoft.com/azureml/")

    spec = ScriptRunConfig(str(project), run_config=rc).to_job_spec()
    assert spec.script == "train.py" and spec.node_count == 2
    assert spec.distributed_job_config == MpiSpec(process_count_per_node=4)
    assert spec.environment_variables == {"MY_Var": "keep-case"}


def test_loaded_runconfig_equals_new_form(project: Path) -> None:
    (project / ".azureml").mkdir()
    (project / ".azureml" / "job.runconfig").write_text(
        "script: train.py\nframework: PyTorch\ncommunicator: Gloo\nnodeCount: 2\n"
        "pytorch: {communicationBackend: gloo, processCount: 4}\nenvironment: {name: default-environment}\n")
    legacy = ScriptRunConfig(str(project), run_config=RunConfiguration.load(project, "job"))
    spec = legacy.to_job_spec()
    assert spec.distributed_job_config == PyTorchSpec(communication_backend="gloo", process_count=4)
    assert spec.environment is None and spec.node_count == 2


def test_snake_case_keys_accepted(project: Path) -> None:
    file = project / "snake.runconfig"
    file.write_text("script: train.py\nnode_count: 3\nmax_run_duration_seconds: 60\n"
                    "mpi: {process_count_per_node: 2}\n")
    rc = RunConfiguration.load(file)
    assert (rc.node_count, rc.max_run_duration_seconds, rc.mpi.process_count_per_node) == (3, 60, 2)


def test_lookup_order(project: Path) -> None:
    (project / ".azureml").mkdir()
    (project / "aml_config").mkdir()
    (project / "a.runconfig").write_text("script: third.py\n")
    assert RunConfiguration.load(project, "a").script == "third.py"
    (project / ".azureml" / "a.runconfig").write_text("script: second.py\n")
    assert RunConfiguration.load(project, "a").script == "second.py"
    (project / "aml_config" / "a").write_text("script: first.py\n")
    assert RunConfiguration.load(project, "a").script == "first.py"


def test_load_missing(project: Path) -> None:
    with pytest.raises(ConfigError, match="no run configuration found"):
        RunConfiguration.load(project, "nope")


def test_unknown_keys_did_you_mean_with_file_and_line(project: Path) -> None:
    file = project / "bad.runconfig"
    file.write_text("script: train.py\nnodeCont: 2\nmpi:\n  processCountPerNod: 2\n"
                    "environment:\n  python:\n    user_managed_dependencie: true\n")
    with pytest.raises(ConfigError) as info:
        RunConfiguration.load(file)
    got = {p.path: (p.line, p.hint, p.file) for p in info.value.problems}
    assert got == {
        "nodeCont": (2, "did you mean `nodeCount`?", str(file)),
        "mpi.processCountPerNod": (4, "did you mean `processCountPerNode`?", str(file)),
        "environment.python.user_managed_dependencie": (7, "did you mean `user_managed_dependencies`?", str(file)),
    }


def test_wrong_value_type_reports_line(project: Path) -> None:
    file = project / "bad.runconfig"
    file.write_text("script: train.py\n\nnodeCount: two\n")
    with pytest.raises(ConfigError) as info:
        RunConfiguration.load(file)
    problem = info.value.problems[0]
    assert (problem.path, problem.line) == ("nodeCount", 3)


def test_bad_pytorch_backend_in_file(project: Path) -> None:
    file = project / "bad.runconfig"
    file.write_text("pytorch: {communicationBackend: mpi}\n")
    with pytest.raises(ConfigError) as info:
        RunConfiguration.load(file)
    assert info.value.paths() == ["pytorch.communication_backend"]


def _configured() -> RunConfiguration:
    rc = RunConfiguration(script="train.py", arguments=["--lr", 0.1], communicator="OpenMpi")
    rc.node_count = 2
    rc.mpi = MpiConfiguration(process_count_per_node=3)
    rc.max_run_duration_seconds = 120
    rc.environment_variables = {"K": "v"}
    env = Environment("saved-env")
    env.python.user_managed_dependencies = True
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy"], python_version="3.11")
    env.environment_variables = {"E": "1"}
    rc.environment = env
    rc.docker.shm_size = "4g"
    return rc


def _spec(project: Path, rc: RunConfiguration):
    return ScriptRunConfig(str(project), run_config=rc).to_job_spec()


def test_save_load_round_trip_project_dir(project: Path) -> None:
    rc = _configured()
    written = rc.save(str(project), name="train")
    assert written == str(project / ".azureml" / "train")
    data = yaml.safe_load(Path(written).read_text())
    assert data["nodeCount"] == 2 and data["mpi"]["processCountPerNode"] == 3
    assert data["environment"]["python"]["condaDependenciesFile"] == ".azureml/conda_dependencies.yml"
    assert (project / ".azureml" / "conda_dependencies.yml").is_file()
    loaded = RunConfiguration.load(str(project), "train")
    assert _spec(project, loaded) == _spec(project, rc)


def test_save_to_new_file_path_creates_folders(project: Path) -> None:
    rc = _configured()
    file = project / "configs" / "nested" / "job.runconfig"
    rc.save(file)
    assert file.is_file() and (file.parent / "conda_dependencies.yml").is_file()
    assert _spec(project, RunConfiguration.load(file)) == _spec(project, rc)


def test_save_uses_existing_aml_config(project: Path) -> None:
    (project / "aml_config").mkdir()
    RunConfiguration(script="train.py").save(project, "local")
    assert (project / "aml_config" / "local").is_file()


def test_save_separate_environment_yaml(project: Path) -> None:
    rc = _configured()
    written = rc.save(project, "sep", separate_environment_yaml=True)
    assert yaml.safe_load(Path(written).read_text())["environment"] == ".azureml/environment.yml"
    assert (project / ".azureml" / "environment.yml").is_file()
    assert _spec(project, RunConfiguration.load(project, "sep")) == _spec(project, rc)


def test_save_dir_needs_a_name(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfiguration().save(project)
    assert info.value.paths() == ["name"]


def test_loaded_object_saves_back_to_the_same_file(project: Path) -> None:
    file = project / "job.runconfig"
    RunConfiguration(script="train.py").save(file)
    rc = RunConfiguration.load(file)
    rc.node_count = 4
    rc.save()
    assert RunConfiguration.load(file).node_count == 4


def test_environment_reference_in_runconfig(project: Path) -> None:
    file = project / "ref.runconfig"
    file.write_text("script: train.py\nenvironment: my-env:3\n")
    rc = RunConfiguration.load(file)
    assert rc.environment == "my-env:3"
    assert _spec(project, rc).environment == "my-env:3"
