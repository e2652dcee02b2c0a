"""Pipelines against the real agent and MLflow store: data between steps, full reuse on
resubmission with ``why``, a failing step naming itself and its exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_workspace, stop_agent
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.data.output import OutputFileDatasetConfig
from scriptrun.errors import ActivityFailedException
from scriptrun.pipeline.core import Pipeline, PipelineParameter
from scriptrun.pipeline.steps import PythonScriptStep

pytestmark = pytest.mark.slow

PREP = "import os, sys\nos.makedirs(sys.argv[2], exist_ok=True)\nopen(os.path.join(sys.argv[2], 'd.txt'), 'w').write('42')\n"
TRAIN = "import sys\nprint('read', open(sys.argv[2] + '/d.txt').read(), 'lr', sys.argv[4])\n"


@pytest.fixture
def ws(tmp_path: Path):
    ws = make_workspace(tmp_path / "ws")
    yield ws
    stop_agent(ws)


def build(ws, folder: Path, train_body: str = TRAIN) -> Pipeline:
    (folder / "prep").mkdir(parents=True, exist_ok=True)
    (folder / "train").mkdir(parents=True, exist_ok=True)
    (folder / "prep" / "prep.py").write_text(PREP)
    (folder / "train" / "train.py").write_text(train_body)
    prepped = OutputFileDatasetConfig("prepped")
    lr = PipelineParameter("lr", 0.1)
    prep = PythonScriptStep(name="prep", script_run_config=ScriptRunConfig(folder / "prep", "prep.py",
                                                                           arguments=["--out", prepped]))
    train = PythonScriptStep(name="train", script_run_config=ScriptRunConfig(
        folder / "train", "train.py", arguments=["--data", prepped.as_input("data"), "--lr", lr]))
    return Pipeline(ws, [prep, train])


def test_pipeline_runs_then_is_fully_reused_and_explains_why(ws, tmp_path):
    run = build(ws, tmp_path / "code").submit("pipe")
    details = run.wait_for_completion(show_output=False)
    assert details["status"] == "Completed"
    assert [s.name for s in run.get_steps()] == ["prep", "train"]
    again = build(ws, tmp_path / "code").submit("pipe")
    assert again.wait_for_completion(show_output=False)["status"] == "Completed"
    info = again.get_reuse_info()
    assert info["prep"]["reused"] and info["train"]["reused"], info
    third = build(ws, tmp_path / "code").submit("pipe", pipeline_parameters={"lr": 0.5})
    third.wait_for_completion(show_output=False)
    info = third.get_reuse_info()
    assert info["prep"]["reused"] and not info["train"]["reused"], info
    assert info["train"]["why"] == ["parameter lr: 0.1 → 0.5"], info
    assert (third.get_graph_svg() or "").find("<svg") >= 0


def test_a_failing_step_fails_the_pipeline_naming_the_step_and_exit_code(ws, tmp_path):
    run = build(ws, tmp_path / "code", train_body="import sys\nsys.exit(3)\n").submit("pipe")
    with pytest.raises(ActivityFailedException, match=r"step train failed \(exit code 3\)"):
        run.wait_for_completion(show_output=False)
