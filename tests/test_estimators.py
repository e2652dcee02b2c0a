"""Estimators are builders of the equivalent ScriptRunConfig: equal specs, one deprecation
warning whose printed code builds that same spec, v1's validation rules, and submission
through the one ScriptRunConfig path."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from scriptrun import (
    CondaDependencies,
    ConfigError,
    Datastore,
    Environment,
    Experiment,
    MpiConfiguration,
    PyTorchConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
    Workspace,
)
from scriptrun.config.prepare import prepare_job
from scriptrun.train.dnn import Chainer, Gloo, Mpi, Nccl, ParameterServer, PyTorch, TensorFlow
from scriptrun.train.estimator import Estimator
from scriptrun.train.sklearn import SKLearn


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws")


@pytest.fixture
def src_dir(tmp_path: Path) -> str:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "train.py").write_text("print('hi')\n")
    (folder / "requirements.txt").write_text("six\n")
    return str(folder)


def build(cls, *args, **kwargs):
    """Construct an estimator, asserting exactly one DeprecationWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = cls(*args, **kwargs)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1, [str(w.message) for w in caught]
    assert deprecations[0].filename == __file__, "the warning points at the caller's line"
    return est, str(deprecations[0].message)


def spec_of(config, ws):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare_job(config, ws)


def printed_spec(est, message: str, ws, **namespace):
    """Execute the code printed in the warning; return the spec of the ``src`` it builds."""
    code = "\n".join(line[4:] for line in message.split("\n\n", 1)[1].splitlines())
    assert code.strip() == est.script_run_config_code().strip()
    ns: dict = dict(namespace)
    exec(compile(code, "<printed>", "exec"), ns)
    return spec_of(ns["src"], ws)


def test_plain_estimator_equals_script_run_config(ws, src_dir):
    est, message = build(Estimator, src_dir, compute_target="local", entry_script="train.py",
                         script_params={"--lr": 0.01, "--epochs": 3, "--verbose": "", "--skip": None,
                                        "--layers": [64, 32]})
    expected = ScriptRunConfig(source_directory=src_dir, script="train.py", compute_target="local",
                               arguments=["--lr", 0.01, "--epochs", 3, "--verbose", "--skip", "--layers", 64, 32])
    assert spec_of(est.to_script_run_config(), ws) == spec_of(expected, ws)
    assert printed_spec(est, message, ws) == spec_of(expected, ws)
    assert "Estimator is deprecated: use ScriptRunConfig" in message


def test_pytorch_distributed_with_packages(ws, src_dir):
    est, message = build(PyTorch, src_dir, compute_target="local", entry_script="train.py", node_count=2,
                         process_count_per_node=2, distributed_training=Gloo(), pip_packages=["pillow"],
                         environment_variables={"SEED": "1"}, max_run_duration_seconds=600)
    env = Environment("pytorch-estimator")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["torch==2.13.0", "numpy", "pillow"])
    env.environment_variables = {"OMP_NUM_THREADS": "1"}
    expected = ScriptRunConfig(source_directory=src_dir, script="train.py", compute_target="local",
                               environment=env, max_run_duration_seconds=600,
                               distributed_job_config=PyTorchConfiguration(communication_backend="Gloo",
                                                                            process_count=4, node_count=2))
    expected.run_config.environment_variables = {"SEED": "1"}
    spec = spec_of(est.to_script_run_config(), ws)
    assert spec == spec_of(expected, ws)
    assert spec.node_count == 2 and spec.distributed_job_config.process_count == 4
    assert printed_spec(est, message, ws) == spec


def test_pytorch_without_packages_uses_the_curated_environment(ws, src_dir):
    est, message = build(PyTorch, src_dir, compute_target="local", entry_script="train.py",
                         distributed_backend="gloo", node_count=2)
    expected = ScriptRunConfig(source_directory=src_dir, script="train.py", compute_target="local",
                               environment="scriptrun-pytorch-cpu",
                               distributed_job_config=PyTorchConfiguration("Gloo", process_count=2, node_count=2))
    spec = spec_of(est.to_script_run_config(), ws)
    assert spec == spec_of(expected, ws)
    assert spec.environment.name == "scriptrun-pytorch-cpu"
    assert printed_spec(est, message, ws) == spec


def test_mpi_backend_and_legacy_mpi_give_the_same_spec(ws, src_dir):
    by_backend, _ = build(Estimator, src_dir, compute_target="local", entry_script="train.py", node_count=1,
                          process_count_per_node=2, distributed_backend="mpi")
    by_object, message = build(Estimator, src_dir, compute_target="local", entry_script="train.py",
                               distributed_training=Mpi(process_count_per_node=2))
    expected = ScriptRunConfig(source_directory=src_dir, script="train.py", compute_target="local",
                               distributed_job_config=MpiConfiguration(process_count_per_node=2))
    assert spec_of(by_backend.to_script_run_config(), ws) == spec_of(expected, ws)
    assert spec_of(by_object.to_script_run_config(), ws) == spec_of(expected, ws)
    assert printed_spec(by_object, message, ws) == spec_of(expected, ws)


def test_tensorflow_parameter_server(ws, src_dir):
    est, message = build(TensorFlow, src_dir, compute_target="local", entry_script="train.py",
                         worker_count=2, parameter_server_count=1, distributed_backend="ps")
    env = Environment("tensorflow-estimator")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["tensorflow"])
    expected = ScriptRunConfig(source_directory=src_dir, script="train.py", compute_target="local",
                               environment=env, distributed_job_config=TensorflowConfiguration(2, 1))
    spec = spec_of(est.to_script_run_config(), ws)
    assert spec == spec_of(expected, ws)
    assert spec.node_count == 2
    assert printed_spec(est, message, ws) == spec
    legacy, _ = build(TensorFlow, src_dir, compute_target="local", entry_script="train.py",
                      distributed_training=ParameterServer(worker_count=2))
    assert spec_of(legacy.to_script_run_config(), ws) == spec


def test_sklearn_with_requirements_file_and_conda_packages(ws, src_dir):
    est, message = build(SKLearn, src_dir, compute_target="local", entry_script="train.py",
                         pip_requirements_file="requirements.txt", pip_packages=["joblib"])
    env = Environment.from_pip_requirements("sklearn-estimator", str(Path(src_dir) / "requirements.txt"))
    env.python.conda_dependencies.add_pip_package("joblib")
    expected = ScriptRunConfig(source_directory=src_dir, script="train.py", compute_target="local",
                               environment=env)
    spec = spec_of(est.to_script_run_config(), ws)
    assert spec == spec_of(expected, ws)
    assert printed_spec(est, message, ws) == spec

    plain, message = build(SKLearn, src_dir, compute_target="local", entry_script="train.py",
                           conda_packages=["scikit-learn"])
    assert spec_of(plain.to_script_run_config(), ws).environment.python.conda_dependencies.conda_packages == [
        "scikit-learn"]
    assert printed_spec(plain, message, ws) == spec_of(plain.to_script_run_config(), ws)


def test_objects_in_the_estimator_are_named_in_the_printed_code(ws, src_dir):
    store = Datastore.get_default(ws)
    for folder in ("mnist", "extra"):
        store.upload(src_dir, target_path=folder)
    data = store.path("mnist").as_mount()
    env = Environment("mine")
    env.python.user_managed_dependencies = True
    script_params = {"--data": data, "--lr": 0.1}
    inputs = [store.path("extra").as_download()]
    est, message = build(Estimator, src_dir, compute_target="local", entry_script="train.py",
                         script_params=script_params, inputs=inputs, environment_definition=env)
    assert "script_params['--data']" in message and "environment=environment_definition" in message
    assert "are the values you passed to the estimator" in message
    spec = spec_of(est.to_script_run_config(), ws)
    assert printed_spec(est, message, ws, script_params=script_params, inputs=inputs,
                        environment_definition=env) == spec
    assert set(spec.inputs) == {data.data_reference_name, inputs[0].data_reference_name}


def test_submit_goes_through_the_script_run_config_path(ws, src_dir, monkeypatch):
    import scriptrun.config.script_run_config as submit_module  # where the ScriptRunConfig path calls submit_job

    captured = {}

    def fake_submit_job(spec, *args, **kwargs):
        captured["spec"] = spec
        return "run"

    monkeypatch.setattr(submit_module, "submit_job", fake_submit_job)
    est, _ = build(PyTorch, src_dir, compute_target="local", entry_script="train.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert Experiment(ws, "est").submit(est) == "run"
    assert captured["spec"] == spec_of(est.to_script_run_config(), ws)


@pytest.mark.parametrize(("kwargs", "path", "fragment"), [
    ({"environment_definition": Environment("e"), "pip_packages": ["x"]}, "environment_definition",
     "cannot be combined with pip_packages"),
    ({"conda_dependencies_file": "env.yml", "pip_packages": ["x"]}, "conda_dependencies_file", "cannot be combined"),
    ({"node_count": 0}, "node_count", ">= 1"),
    ({"process_count_per_node": 0}, "process_count_per_node", ">= 1"),
    ({"node_count": 2}, "node_count", "needs a distributed backend"),
    ({"distributed_backend": "ps"}, "distributed_backend", "does not support"),
    ({"distributed_training": Gloo()}, "distributed_training", "does not support"),
    ({"distributed_backend": "mpi", "distributed_training": Mpi()}, "distributed_backend", "not both"),
    ({"user_managed": True, "pip_packages": ["x"]}, "user_managed", "cannot be combined"),
    ({"custom_docker_image": "a", "custom_docker_base_image": "b"}, "custom_docker_image", "not both"),
    ({"use_docker": False, "custom_docker_image": "a"}, "use_docker", "custom docker image"),
    ({"compute_target": None}, "compute_target", "needs a compute_target"),
    ({"compute_target": None, "vm_size": "STANDARD_D2_V2"}, "vm_size", "does not exist locally"),
    ({"bogus": 1}, "bogus", "no argument"),
])
def test_v1_validation_rules(src_dir, kwargs, path, fragment):
    kwargs = {"compute_target": "local", "entry_script": "train.py", **kwargs}
    with pytest.raises(ConfigError) as info:
        Estimator(src_dir, **kwargs)
    assert path in info.value.paths()
    assert fragment in str(info.value)


def test_framework_specific_rules(src_dir):
    with pytest.raises(ConfigError, match="SKLearn has no `node_count`"):
        SKLearn(src_dir, compute_target="local", node_count=2)
    with pytest.raises(ConfigError, match="Chainer estimator is not supported"):
        Chainer(src_dir, compute_target="local")
    with pytest.raises(ConfigError, match="does not support distributed_training"):
        TensorFlow(src_dir, compute_target="local", distributed_training=Nccl())
    est, message = build(PyTorch, src_dir, compute_target="local", entry_script="train.py", use_gpu=True,
                         framework_version="1.4")
    assert "# scriptrun: use_gpu has no effect locally" in message
    assert "framework_version='1.4'" in message
