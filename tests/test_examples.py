"""The examples run end to end, as the README runs them."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import stop_agent
from scriptrun.hyperdrive.yamlfile import load_hyperdrive_yaml
from scriptrun.workspace import Workspace

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCRIPTRUN_WORKSPACE", raising=False)
    yield tmp_path
    if (tmp_path / ".scriptrun").is_dir():
        stop_agent(Workspace.get(tmp_path))


def run_example(path: Path, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, str(path)], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / "seed" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_python_api(cwd: Path):
    out = run_example(EXAMPLES / "quickstart" / "submit.py", cwd)
    assert "Status: Completed" in out and "outputs/model.json" in out
    assert "w=3.0" in out


def test_seed_examples_run_and_describe_the_same_job(cwd: Path, monkeypatch: pytest.MonkeyPatch):
    current_out = run_example(EXAMPLES / "seed" / "current.py", cwd)
    proposed_out = run_example(EXAMPLES / "seed" / "proposed.py", cwd)
    for out in (current_out, proposed_out):
        assert "Status: Completed" in out and "'ranks': 2" in out
        assert "100 points of cifar10" in out  # the dataset input reached both MPI ranks
    monkeypatch.syspath_prepend(str(EXAMPLES / "seed"))
    current, proposed = _load("current"), _load("proposed")
    legacy, new = current.build().to_job_spec(), proposed.build().to_job_spec()
    assert legacy == new and list(new.inputs) == ["cifar10"]


def test_ray_example_runs_the_same_job_locally_and_on_ray(cwd: Path):
    pytest.importorskip("ray")
    out = run_example(EXAMPLES / "ray" / "run.py", cwd)
    assert out.count("Status: Completed") == 3
    assert "=== Ray, 2 nodes ===" in out and "ray node " in out.split("=== Ray, 2 nodes ===")[1]


def test_sklearn_example_trains_in_a_built_environment_and_registers_its_model(cwd: Path):
    out = run_example(EXAMPLES / "sklearn" / "run.py", cwd)
    assert "Status: Completed" in out and "'accuracy'" in out
    assert "registered model dataset iris-model:1: ['/model.pkl']" in out
    assert "input : iris iris:1" in out
    built = [p for p in (cwd / ".scriptrun" / "envs").iterdir() if (p / "bin" / "python").exists()]
    assert len(built) == 1  # trained in a built (not user-managed) environment


def test_pipeline_example_runs_then_is_reused_and_explains_why(cwd: Path):
    out = run_example(EXAMPLES / "pipeline" / "run.py", cwd)
    first, second, third = out.split("=== first run ===")[1].split("=== resubmitted")
    assert "status: Completed" in first and "step prep: Completed" in first and "step train: Completed" in first
    assert re.search(r"train: w=2\.9\d\d b=1\.9\d\d", first), first
    assert "prep: reused=False" in first and "train: reused=False" in first
    assert "prep: reused=True" in second and "train: reused=True" in second, second
    assert "nothing in its key changed" in second
    assert "prep: reused=True" in third and "train: reused=False why=['parameter lr: 0.1 → 0.05']" in third, third
    assert "graph: svg" in third


def test_sweep_example_runs_six_trials_and_reports_the_best(cwd: Path):
    out = run_example(EXAMPLES / "sweep" / "run.py", cwd)
    assert "sweep status: Completed" in out
    rows = re.findall(r"^  (HD_\S+_\d)  (\w+)\s+loss\s+(\S+)  (\{.*\})$", out, re.MULTILINE)
    assert len(rows) == 6, out
    assert {status for _, status, _, _ in rows} <= {"Completed", "Canceled"}
    assert any(status == "Canceled" for _, status, _, _ in rows), out  # the Bandit policy stopped a trial
    assert "stopped early by the sweep's policy: BanditPolicy" in out
    best = re.search(r"^best run: (HD_\S+)  loss (\S+)  hyperparameters (\{.*\})$", out, re.MULTILINE)
    assert best is not None, out
    assert best.group(1) == rows[0][0] and best.group(3) == rows[0][3]
    assert float(best.group(2)) < 0.05


def test_sweep_yaml_describes_the_same_sweep_as_the_example():
    hd = load_hyperdrive_yaml(EXAMPLES / "sweep" / "sweep.yml")
    assert hd.primary_metric_name == "loss" and hd.max_total_runs == 6 and hd.max_concurrent_runs == 2
    assert type(hd.sampling).__name__ == "RandomParameterSampling"
    assert type(hd.policy).__name__ == "BanditPolicy"
