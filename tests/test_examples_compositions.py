"""The pipeline and sweep examples run end to end, as the README runs them."""

from __future__ import annotations

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
    proc = subprocess.run([sys.executable, str(path)], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


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
