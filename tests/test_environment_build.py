"""Built environments: real virtualenvs built with the real uv (tiny pure-Python packages from
PyPI keep builds fast), the content-hash cache, the lock, failures, curated environments and
what this machine cannot provide."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

from conftest import pid_alive, wait_for
from scriptrun import (
    CondaDependencies,
    ConfigError,
    Environment,
    Experiment,
    ScriptRunConfig,
    Workspace,
)
from scriptrun.config import prepare_job
from scriptrun.environment.builder import ensure_environment, envs_dir
from scriptrun.spec import EnvironmentSpec

pytestmark = pytest.mark.slow

SIX_SCRIPT = """
import sys, six
from scriptrun import Run
run = Run.get_context()
run.log("six_major", int(six.__version__.split(".")[0]))
print("PREFIX", sys.prefix)
"""


def _pip_env(name: str, *packages: str) -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(packages))
    return env


def _status(ws: Workspace, run_id: str) -> dict:
    return json.loads((ws.run_dir(run_id) / "status.json").read_text())


def test_run_in_built_environment_and_reuse(own_ws: Workspace, project) -> None:
    src_dir = project(train=SIX_SCRIPT)
    env = _pip_env("with-six", "six")
    exp = Experiment(own_ws, "built")
    first = exp.submit(ScriptRunConfig(str(src_dir), "train.py", environment=env))
    first.wait_for_completion(raise_on_error=True)
    assert first.get_metrics()["six_major"] == 1  # imported six and scriptrun inside the built venv
    built = _status(own_ws, first.id)["environment"]
    assert built["cached"] is False
    assert Path(built["path"]).parent == envs_dir(own_ws)
    log = (own_ws.run_dir(first.id) / "logs" / "environment_build.txt").read_text()
    assert "uv pip install" in log and "--compile-bytecode" in log
    assert "environment_build.txt" in " ".join(first.get_details()["logFiles"])
    second = exp.submit(ScriptRunConfig(str(src_dir), "train.py", environment=_pip_env("other-name", "six")))
    second.wait_for_completion(raise_on_error=True)
    again = _status(own_ws, second.id)["environment"]
    assert again["hash"] == built["hash"] and again["cached"] is True  # same definition, other name
    assert f"PREFIX {built['path']}" in "".join(Path(p).read_text() for p in
                                                 second.get_details()["logFiles"].values())


def test_two_concurrent_runs_build_once(own_ws: Workspace, project) -> None:
    src_dir = project(train=SIX_SCRIPT)
    env = _pip_env("concurrent", "six", "tomli")
    exp = Experiment(own_ws, "concurrent")
    runs = [exp.submit(ScriptRunConfig(str(src_dir), "train.py", environment=env)) for _ in range(2)]
    for run in runs:
        run.wait_for_completion(raise_on_error=True)
    states = [_status(own_ws, r.id)["environment"] for r in runs]
    assert states[0]["hash"] == states[1]["hash"]
    assert sorted(s["cached"] for s in states) == [False, True]  # one built it, the other reused it
    assert len([p for p in envs_dir(own_ws).iterdir() if not p.name.startswith(".")]) == 1


def test_failed_build_fails_the_run_and_leaves_nothing(own_ws: Workspace, project) -> None:
    src_dir = project(train="print('never runs')\n")
    env = _pip_env("broken", "scriptrun-no-such-package-8f3a2c==1.0")
    run = Experiment(own_ws, "broken").submit(ScriptRunConfig(str(src_dir), "train.py", environment=env))
    run.wait_for_completion(raise_on_error=False)
    details = run.get_details()
    assert details["status"] == "Failed"
    assert details["error"]["code"] == "EnvironmentBuildError"
    assert "scriptrun-no-such-package-8f3a2c" in details["error"]["message"]
    assert (own_ws.run_dir(run.id) / "logs" / "environment_build.txt").is_file()
    leftovers = [p.name for p in envs_dir(own_ws).iterdir() if p.name != ".locks"]
    assert leftovers == []


def test_ensure_environment_cached_resolution_is_fast(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path)
    spec = EnvironmentSpec.model_validate({"python": {"conda_dependencies": {"pip_packages": ["six"]}}})
    cold = ensure_environment(ws, spec, log_file=tmp_path / "build.txt")
    warm = ensure_environment(ws, spec, log_file=tmp_path / "build.txt")
    assert not cold.cached and warm.cached and warm.path == cold.path
    assert warm.seconds < cold.seconds
    assert (cold.path / "scriptrun-env.json").is_file()


def test_conda_packages_without_pip_equivalent_and_no_conda_are_a_validation_error(tmp_path: Path, project, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no conda/micromamba here
    ws = Workspace.create(tmp_path / "ws")
    env = Environment("conda")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=["r-base"], pip_packages=["six"])
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(project(train="")), "train.py", environment=env), ws)
    problem = info.value.problems[0]
    assert problem.path == "environment.python.conda_dependencies.conda_packages"
    assert "r-base" in problem.message and "micromamba" in problem.message
    assert "pip" in problem.hint


def test_docker_image_without_container_engine(tmp_path: Path, project, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    ws = Workspace.create(tmp_path / "ws")
    env = Environment.from_docker_image("img", "python:3.11-slim")
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(project(train="")), "train.py", environment=env), ws)
    assert info.value.paths() == ["environment.docker.base_image"]
    assert "no container engine" in str(info.value)


def test_python_version_not_installed(tmp_path: Path, project) -> None:
    ws = Workspace.create(tmp_path / "ws")
    env = _pip_env("old-python", "six")
    env.python.conda_dependencies.set_python_version("3.4")
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(project(train="")), "train.py", environment=env), ws)
    assert info.value.paths() == ["environment.python.conda_dependencies.python_version"]
    assert "3.4 is not installed" in str(info.value)


def test_conda_specification_pip_part_is_honoured(tmp_path: Path, project) -> None:
    spec_file = tmp_path / "env.yml"
    spec_file.write_text("name: x\ndependencies:\n  - pip\n  - pip:\n    - six==1.17.0\n    - --pre\n")
    env = Environment.from_conda_specification("from-conda", spec_file)
    deps = env.python.conda_dependencies
    assert deps.pip_packages == ["six==1.17.0"] and deps.pip_options == ["--pre"] and deps.conda_packages == []
    ws = Workspace.create(tmp_path / "ws")
    assert prepare_job(ScriptRunConfig(str(project(train="")), "train.py", environment=env), ws)


def test_from_pip_requirements(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("tomli>=2\n")
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\nsix==1.17.0  # pinned\n-r base.txt\n--extra-index-url https://example.org/simple\n\n")
    deps = Environment.from_pip_requirements("reqs", req).python.conda_dependencies
    assert deps.pip_packages == ["six==1.17.0", "tomli>=2"]
    assert deps.pip_options == ["--extra-index-url https://example.org/simple"]
    with pytest.raises(ConfigError, match="requirements file not found"):
        Environment.from_pip_requirements("missing", tmp_path / "nope.txt")


def test_register_identical_returns_existing_version(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path)
    assert _pip_env("reg", "six").register(ws).version == "1"
    assert _pip_env("reg", "six").register(ws).version == "1"
    assert _pip_env("reg", "six", "tomli").register(ws).version == "2"
    assert Environment.get(ws, "reg").version == "2"
    assert Environment.get(ws, "reg", version=1).python.conda_dependencies.pip_packages == ["six"]


def test_curated_environments(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path)
    listed = Environment.list(ws)
    assert {"scriptrun-minimal", "scriptrun-sklearn", "scriptrun-pytorch-cpu"} <= set(listed)
    torch_env = Environment.get(ws, "scriptrun-pytorch-cpu")
    assert "torch==2.13.0" in torch_env.python.conda_dependencies.pip_packages
    with pytest.warns(UserWarning, match="'AzureML-PyTorch-1-3-GPU'.*'scriptrun-pytorch-cpu'.*CPU only"):
        assert Environment.get(ws, "AzureML-PyTorch-1-3-GPU").name == "scriptrun-pytorch-cpu"
    with pytest.warns(UserWarning, match="scriptrun-minimal"):
        assert Environment.get(ws, "AzureML-Minimal").name == "scriptrun-minimal"
    with pytest.warns(UserWarning, match="scriptrun-sklearn"):
        assert Environment.get(ws, "AzureML-sklearn-1.5").name == "scriptrun-sklearn"


def test_curated_environment_by_name_in_a_job(tmp_path: Path, project) -> None:
    ws = Workspace.create(tmp_path / "ws")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = prepare_job(ScriptRunConfig(str(project(train="")), "train.py", environment="AzureML-Tutorial"), ws)
    assert spec.environment.name == "scriptrun-minimal"
    sk = prepare_job(ScriptRunConfig(str(project(train="")), "train.py", environment="scriptrun-sklearn"), ws)
    assert any(p.startswith("scikit-learn") for p in sk.environment.python.conda_dependencies.pip_packages)


def test_user_managed_environment_builds_nothing(own_ws: Workspace, project) -> None:
    env = _pip_env("managed", "definitely-not-installed-pkg")
    env.python.user_managed_dependencies = True
    run = Experiment(own_ws, "managed").submit(ScriptRunConfig(str(project(train="print('ok')")), "train.py",
                                                               environment=env))
    run.wait_for_completion(raise_on_error=True)
    assert _status(own_ws, run.id)["environment"] == {}
    assert not envs_dir(own_ws).exists() or not any(envs_dir(own_ws).iterdir())
    wait_for(lambda: os.path.exists(own_ws.run_dir(run.id)))



SLOW_BACKEND = """
import os, time

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open({pid_file!r}, "w") as fh:
        fh.write(str(os.getpid()))
    print("SLOWBUILD building", flush=True)
    time.sleep(600)
    raise SystemExit("never finishes")

def get_requires_for_build_wheel(config_settings=None):
    return []
"""


def test_cancel_during_environment_build_stops_the_build(own_ws: Workspace, project, tmp_path: Path) -> None:
    """Issue 11 #2: cancel() while Preparing ends the run Canceled, with the build's whole
    process group stopped and no half-built environment left in the cache."""
    package, pid_file = tmp_path / "slowpkg", tmp_path / "builder.pid"
    package.mkdir()
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "slowbackend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "slowpkg"\nversion = "1.0"\n')
    (package / "slowbackend.py").write_text(SLOW_BACKEND.format(pid_file=str(pid_file)))
    src_dir = project(train="print('never runs')\n")
    env = _pip_env("slow-build", f"slowpkg @ {package.as_uri()}")
    run = Experiment(own_ws, "cancel-build").submit(ScriptRunConfig(str(src_dir), "train.py", environment=env))
    wait_for(pid_file.is_file, timeout=120)  # the build is inside the package's build backend
    builder = int(pid_file.read_text())
    assert run.get_status() == "Preparing"
    run.cancel()
    wait_for(lambda: run.get_status() in ("Canceled", "Completed", "Failed"), timeout=30)
    assert run.get_status() == "Canceled"
    build_log = own_ws.run_dir(run.id) / "logs" / "environment_build.txt"
    assert "stopped: the run was canceled" in build_log.read_text()
    assert "environment_build.txt" in " ".join(run.get_details()["logFiles"])  # the log stays a run file
    wait_for(lambda: not pid_alive(builder), timeout=15)  # the backend, a grandchild of the agent, is gone
    leftovers = [p.name for p in envs_dir(own_ws).iterdir() if p.name != ".locks"]
    assert leftovers == []
