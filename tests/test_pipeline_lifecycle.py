"""Pipelines and sweeps through the life events of the real agent: an agent SIGKILLed
mid-pipeline, mid-sweep and mid-HyperDriveStep (nothing finished runs again, nothing is
lost), a submitter that exits at once (the agent carries on), and cancel (no process left).

Every job appends ``start <name>`` / ``end <name>`` to the file named by ``$MARKS`` (local
runs see the submitter's environment), which is what the assertions count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_workspace, pid_alive, stop_agent, wait_for
from scriptrun import Experiment, Run, ScriptRunConfig
from scriptrun.agent.client import send_request
from scriptrun.pipeline.core import Pipeline
from scriptrun.pipeline.steps import HyperDriveStep, PythonScriptStep
from scriptrun.rundir import read_json
from scriptrun.train.hyperdrive import GridParameterSampling, HyperDriveConfig, HyperDriveRun, choice

pytestmark = pytest.mark.slow

JOB = """
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--name", default="")
p.add_argument("--sleep", type=float, default=0.2)
p.add_argument("--x", type=float, default=0.0)
a = p.parse_args()
name = a.name or f"x={a.x}"
def mark(kind):
    with open(os.environ["MARKS"], "a") as fh:
        fh.write(f"{kind} {name}\\n")
mark("start")
time.sleep(a.sleep)
from scriptrun import Run
Run.get_context().log("score", a.x)
mark("end")
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("lifecycle") / "ws", max_concurrent_runs=3)
    yield ws
    stop_agent(ws)


@pytest.fixture(scope="module")
def code(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("code")
    (folder / "job.py").write_text(JOB)
    return folder


@pytest.fixture
def marks(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "marks.txt"
    monkeypatch.setenv("MARKS", str(path))
    return path


def read_marks(path: Path, kind: str) -> list[str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [name for k, name in (line.split() for line in lines) if k == kind]


def chain(ws, code: Path, sleeps: dict[str, float]) -> Pipeline:
    """Steps run one after another, never reused (each test counts real starts)."""
    steps = [PythonScriptStep(name=n, allow_reuse=False, script_run_config=ScriptRunConfig(
        str(code), "job.py", arguments=["--name", n, "--sleep", s])) for n, s in sleeps.items()]
    for before, after in zip(steps, steps[1:], strict=False):
        after.run_after(before)
    return Pipeline(ws, steps)


def sweep(code: Path, xs: tuple[float, ...], sleep: float, concurrent: int) -> HyperDriveConfig:
    return HyperDriveConfig(GridParameterSampling({"--x": choice(*xs)}), "score", "maximize",
                            max_total_runs=len(xs), max_concurrent_runs=concurrent,
                            run_config=ScriptRunConfig(str(code), "job.py", arguments=["--sleep", sleep]))


def kill_agent(ws) -> None:
    pid = send_request(ws.agent_socket, {"op": "ping"})["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), timeout=10)


def process_ids(ws, runs) -> list[int]:
    pids = []
    for run in runs:
        info = read_json(ws.run_dir(run.id) / "shim.json") or {}
        pids += [p for p in [info.get("pid"), *info.get("pids", [])] if p]
    return pids


# -- an agent SIGKILLed midway ----------------------------------------------------------------


def test_agent_sigkill_mid_pipeline_resumes_without_rerunning_finished_steps(ws, code, marks):
    run = chain(ws, code, {"a": 0.2, "b": 1.5, "c": 0.2}).submit("life")
    wait_for(lambda: "b" in read_marks(marks, "start"), timeout=60)
    kill_agent(ws)  # a completed, b running, c not created
    details = Run(run.experiment, run.id).wait_for_completion()  # a new agent starts and adopts the pipeline
    assert details["status"] == "Completed"
    assert read_marks(marks, "start") == ["a", "b", "c"]  # each step started once, in order
    assert read_marks(marks, "end") == ["a", "b", "c"]


def test_agent_sigkill_mid_sweep_loses_and_repeats_no_trial(ws, code, marks):
    xs = (0.1, 0.2, 0.3, 0.4, 0.5)
    run = Experiment(ws, "life").submit(sweep(code, xs, 1.0, 2))
    wait_for(lambda: read_marks(marks, "end"), timeout=60)
    kill_agent(ws)  # some trials done, some running, some not issued
    details = HyperDriveRun(run.experiment, run.id).wait_for_completion()
    assert details["status"] == "Completed"
    expected = sorted(f"x={x}" for x in xs)
    assert sorted(read_marks(marks, "start")) == expected  # every trial ran exactly once
    assert sorted(read_marks(marks, "end")) == expected
    assert sorted(c.id for c in run.get_children()) == [f"{run.id}_{i}" for i in range(5)]
    assert run.get_best_run_by_primary_metric().id == f"{run.id}_4"


def test_agent_sigkill_mid_hyperdrive_step_resumes_the_inner_sweep(ws, code, marks):
    step = HyperDriveStep("tune", sweep(code, (0.1, 0.2, 0.3), 1.0, 1), allow_reuse=False)
    run = Pipeline(ws, [step]).submit("life")
    wait_for(lambda: read_marks(marks, "end"), timeout=60)
    kill_agent(ws)  # the pipeline and its sweep child are both rebuilt from their folders
    assert Run(run.experiment, run.id).wait_for_completion()["status"] == "Completed"
    assert sorted(read_marks(marks, "start")) == sorted(read_marks(marks, "end")) == ["x=0.1", "x=0.2", "x=0.3"]


# -- the submitter exits ----------------------------------------------------------------------

SUBMITTER = """
import sys
sys.path.insert(0, {tests!r})
import test_pipeline_lifecycle as t
from pathlib import Path
from scriptrun import Experiment, Workspace
ws, code = Workspace.get({ws!r}), Path({code!r})
job = t.chain(ws, code, {{"a": 1.0, "b": 0.2}}) if sys.argv[1] == "pipeline" else t.sweep(code, (0.1, 0.2), 1.0, 2)
print(Experiment(ws, "life").submit(job).id)
"""


@pytest.mark.parametrize("kind", ["pipeline", "sweep"])
def test_the_submitter_exits_and_the_agent_finishes_the_job(ws, code, marks, kind):
    script = SUBMITTER.format(tests=str(Path(__file__).parent), ws=str(ws.root), code=str(code))
    proc = subprocess.run([sys.executable, "-c", script, kind], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    run = Run(Experiment(ws, "life"), proc.stdout.split()[-1])
    assert run.get_status() not in ("Completed", "Failed", "Canceled")  # its submitter is gone; it goes on
    assert run.wait_for_completion()["status"] == "Completed"
    assert len(read_marks(marks, "end")) == 2


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_a_pipeline_leaves_no_process_and_starts_nothing_new(ws, code, marks):
    run = chain(ws, code, {"a": 60, "b": 0.2}).submit("life")
    wait_for(lambda: read_marks(marks, "start"), timeout=60)
    pids = process_ids(ws, run.get_children())
    assert pids
    run.cancel()
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Canceled"
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=30)
    assert read_marks(marks, "start") == ["a"] and read_marks(marks, "end") == []


def test_cancel_a_sweep_leaves_no_process_and_issues_no_more_trials(ws, code, marks):
    run = Experiment(ws, "life").submit(sweep(code, (0.1, 0.2, 0.3, 0.4), 60, 2))
    wait_for(lambda: len(read_marks(marks, "start")) == 2, timeout=60)
    pids = process_ids(ws, run.get_children())
    assert len(pids) >= 2
    run.cancel()
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Canceled"
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=30)
    assert all(c.get_status() == "Canceled" for c in run.get_children())
    assert len(list(run.get_children())) == 2 and read_marks(marks, "end") == []
