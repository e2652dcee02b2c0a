"""Both installers build real environments (issue 11, items 3 and 4): uv, found from the
installed ``uv`` package, and the pip fallback (forced with ``SCRIPTRUN_ENV_INSTALLER=pip``).
A package shipping a file that does not compile on this Python (as torch ships one for 3.12)
must not fail either build, and bytecode is still written for the rest. A failed build leads
its error with the installer's own error lines (the failing package), not the definition."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from scriptrun import (
    CondaDependencies,
    Environment,
    EnvironmentBuildError,
    Experiment,
    ScriptRunConfig,
    Workspace,
)
from scriptrun.environment.builder import INSTALLER_VARIABLE, ensure_environment, find_uv
from scriptrun.spec import EnvironmentSpec

PROBE = "sr-py312-probe"
MISSING = "scriptrun-no-such-package-8f3a2c==1.0"


def _probe_wheel(folder: Path) -> Path:
    """A pure-Python wheel whose ``_py312.py`` uses 3.12 syntax (PEP 695), like torch's."""
    files = {
        "sr_py312_probe/__init__.py": "VALUE = 42\n",
        "sr_py312_probe/_py312.py": "type Alias = list[int]\n",
        "sr_py312_probe-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {PROBE}\nVersion: 1.0\n",
        "sr_py312_probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                              "Tag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files["sr_py312_probe-1.0.dist-info/RECORD"] = "\n".join([*record, "sr_py312_probe-1.0.dist-info/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "sr_py312_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel


def _spec(*packages: str, options: list[str] | None = None) -> EnvironmentSpec:
    return EnvironmentSpec.model_validate({"name": "probe", "python": {"conda_dependencies": {
        "pip_packages": list(packages), "pip_options": options or []}}})


def _build_probe(tmp_path: Path) -> tuple[str, str]:
    """Build an environment with the probe package; returns its interpreter and build log."""
    wheels = _probe_wheel(tmp_path / "wheels").parent
    ws = Workspace.create(tmp_path / "ws")
    log = tmp_path / "build.txt"
    built = ensure_environment(ws, _spec(f"{PROBE}==1.0", options=[f"--find-links {wheels}"]), log_file=log)
    out = subprocess.run([built.python, "-c", "import sr_py312_probe, sys; print(sr_py312_probe.VALUE, "
                          "sr_py312_probe.__cached__)"], capture_output=True, text=True, check=True).stdout
    value, cached = out.split()
    assert value == "42"
    assert Path(cached).is_file()  # bytecode was written for the file that compiles
    return built.python, log.read_text()


def test_find_uv_takes_the_installed_package(monkeypatch) -> None:
    uv = pytest.importorskip("uv", reason="the uv package is not installed (pip install uv)")
    monkeypatch.delenv(INSTALLER_VARIABLE, raising=False)
    assert find_uv() == uv.find_uv_bin()
    monkeypatch.setenv(INSTALLER_VARIABLE, "pip")
    assert find_uv() is None
    monkeypatch.setenv(INSTALLER_VARIABLE, "conda")
    with pytest.raises(EnvironmentBuildError, match="auto .*uv or pip"):
        find_uv()


def test_uv_is_a_declared_dependency() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert any(dep.split(">")[0].split("=")[0].strip() == "uv" for dep in project["dependencies"])


@pytest.mark.slow
def test_uv_build_survives_a_file_that_does_not_compile(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(INSTALLER_VARIABLE, raising=False)
    if find_uv() is None:
        pytest.skip("uv is not installed (pip install uv): the pip fallback is tested below")
    _, log = _build_probe(tmp_path)
    assert "uv pip install" in log and "--compile-bytecode" in log


@pytest.mark.slow
def test_pip_fallback_survives_a_file_that_does_not_compile(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(INSTALLER_VARIABLE, "pip")
    python, log = _build_probe(tmp_path)
    assert "-m pip install" in log and "uv pip" not in log
    assert "_py312.py" in log  # compileall's complaint is in the log…
    assert "compileall exited with code 1; the build goes on" in log  # …and is not a failure
    assert Path(python).parent.joinpath("pip").exists()


@pytest.mark.slow
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_failed_build_leads_with_the_installers_error(tmp_path: Path, monkeypatch, installer: str) -> None:
    monkeypatch.setenv(INSTALLER_VARIABLE, installer)
    if installer == "uv" and find_uv() is None:
        pytest.skip("uv is not installed (pip install uv)")
    log = tmp_path / "build.txt"
    with pytest.raises(EnvironmentBuildError) as info:
        ensure_environment(Workspace.create(tmp_path / "ws"), _spec(MISSING), log_file=log)
    message = str(info.value)
    assert '"pip_packages"' not in message and "definition: {" not in message  # the definition is not the error…
    head = message.splitlines()[:3]
    assert any("scriptrun-no-such-package-8f3a2c" in line for line in head), message  # the failing package leads
    assert head[0].startswith("uv pip install failed" if installer == "uv" else "pip install failed")
    text = log.read_text()
    assert "definition: {" in text and '"pip_packages"' in text  # …it stays in the log
    assert str(log) in message


@pytest.mark.slow
def test_failed_build_log_is_a_run_file(own_ws: Workspace, project) -> None:
    env = Environment("broken")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=[MISSING])
    run = Experiment(own_ws, "broken").submit(ScriptRunConfig(str(project(train="")), "train.py", environment=env))
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    assert "user_logs/environment_build.txt" in run.get_file_names()
    local = run.download_file("user_logs/environment_build.txt", str(own_ws.root / "build.txt"))
    assert "scriptrun-no-such-package-8f3a2c" in Path(local).read_text()
