"""The agent's queue: the concurrency limit, and cancelling runs that wait on it (issue 11 #6).
Real agent, real subprocesses, real MLflow store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import make_workspace, stop_agent, wait_for
from scriptrun.config import ScriptRunConfig
from scriptrun.rundir import WORKDIR
from scriptrun.runs.experiment import Experiment
from scriptrun.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def one_slot(tmp_path: Path) -> Iterator[Workspace]:
    ws = make_workspace(tmp_path / "ws", max_concurrent_runs=1)
    yield ws
    stop_agent(ws)


def _blocking_script(project, go: Path) -> Path:
    """A script that runs until ``go`` exists."""
    return project(train=f"""
        import os, time
        while not os.path.exists({str(go)!r}):
            time.sleep(0.05)
        print("went", flush=True)
    """)


def test_queue_respects_the_concurrency_limit(one_slot, project, tmp_path):
    go = tmp_path / "go"
    folder = _blocking_script(project, go)
    exp = Experiment(one_slot, "queue")
    first = exp.submit(ScriptRunConfig(str(folder), "train.py"))
    second = exp.submit(ScriptRunConfig(str(folder), "train.py"))
    wait_for(lambda: first.get_status() == "Running", timeout=60)
    assert second.get_status() == "Queued"
    go.write_text("")
    assert second.wait_for_completion()["status"] == "Completed"
    assert second.get_details()["startTimeUtc"] >= first.get_details()["endTimeUtc"]


def test_cancelling_queued_runs_waiting_on_the_limit(one_slot, project, tmp_path):
    """A run waiting for a slot ends Canceled at once and never starts; the queue moves on
    without it; cancelling the running one frees its slot for the next in line."""
    go = tmp_path / "go"
    folder = _blocking_script(project, go)
    exp = Experiment(one_slot, "queue")
    running, waiting, last = (exp.submit(ScriptRunConfig(str(folder), "train.py")) for _ in range(3))
    wait_for(lambda: running.get_status() == "Running", timeout=60)
    assert waiting.get_status() == last.get_status() == "Queued"

    waiting.cancel()
    assert waiting.get_status() == "Canceled"  # no waiting for a slot to end a run that never started
    details = waiting.get_details()
    assert "Running" not in details["phaseTimesUtc"] and "Preparing" not in details["phaseTimesUtc"]
    assert not (one_slot.run_dir(waiting.id) / WORKDIR).exists()
    assert last.get_status() == "Queued" and running.get_status() == "Running"  # the others are untouched

    running.cancel()
    assert running.wait_for_completion()["status"] == "Canceled"
    wait_for(lambda: last.get_status() == "Running", timeout=30)  # the freed slot goes to the next run
    go.write_text("")
    assert last.wait_for_completion()["status"] == "Completed"
    assert waiting.get_status() == "Canceled"  # and the canceled one never ran after all
    assert "went" not in " ".join(Path(p).read_text() for p in waiting.get_details()["logFiles"].values())


def test_fail_on_a_submitted_run_stops_it_and_records_the_error(one_slot, project, tmp_path):
    """v1 allows ``run.fail()`` on a submitted run: it is stopped and ends Failed (not
    Canceled) with the user's error; a queued one never starts."""
    go = tmp_path / "go"
    folder = _blocking_script(project, go)
    exp = Experiment(one_slot, "fail")
    running, queued = (exp.submit(ScriptRunConfig(str(folder), "train.py")) for _ in range(2))
    wait_for(lambda: running.get_status() == "Running", timeout=60)
    queued.fail("superseded")
    running.fail("diverged", error_code="Diverged")
    details = running.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["code"] == "Diverged" and details["error"]["message"] == "diverged"
    assert queued.get_details()["status"] == "Failed"
    assert queued.get_details()["error"]["message"] == "superseded"
    assert "went" not in " ".join(Path(p).read_text() for p in details["logFiles"].values())
