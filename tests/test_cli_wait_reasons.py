"""What the agent says a ``Preparing`` run is doing (``scriptrun`` prints it while it waits)."""

from __future__ import annotations

from pathlib import Path

from scriptrun.agent.handlers import _preparation
from scriptrun.agent.runstate import RunRecord

BUILT_ENV = {"name": "trainer", "python": {"conda_dependencies": {"pip_packages": ["numpy"]}}}


def record(tmp_path: Path, **spec: object) -> RunRecord:
    return RunRecord(run_id="r1", experiment="e", run_dir=str(tmp_path), mlflow_run_id="m",
                     spec={"source_directory": str(tmp_path), "script": "train.py", **spec})


def test_building_an_environment_names_it_and_its_log(tmp_path: Path):
    reason = _preparation(record(tmp_path, environment=BUILT_ENV))
    assert reason.startswith("building environment trainer … (cached after the first build; log: ")
    assert reason.endswith("environment_build.txt)")


def test_then_inputs_then_the_working_directory(tmp_path: Path):
    run = record(tmp_path, environment=BUILT_ENV, inputs={"data": {"dataset": "ds:1"}})
    run.environment = {"hash": "abc", "cached": True}
    assert _preparation(run) == "making inputs and outputs available (data)"
    run.input_datasets = [{"dataset": {"id": "ds:1"}}]
    assert _preparation(run) == "setting up the working directory"
    assert _preparation(record(tmp_path)) == "setting up the working directory"
