"""The controller seam, proven with the built-in batch controller against the real agent:
concurrency caps, fail-fast, cancel, and an agent SIGKILLed mid-batch."""

from __future__ import annotations

import os
import signal

import pytest

from conftest import pid_alive, wait_for
from scriptrun import ChildBatch, ConfigError, Experiment, Run, ScriptRunConfig
from scriptrun.agent.client import send_request
from scriptrun.agent.controllers import (
    BatchController,
    CancelChild,
    ChildInfo,
    ChildRequest,
    FinishParent,
    SubmitChild,
    action_from_json,
    action_to_json,
)
from scriptrun.rundir import CONTROLLER_FILE, read_json

pytestmark = pytest.mark.slow

SHARD = """
    import os, sys, time
    shard = sys.argv[sys.argv.index("--shard") + 1]
    with open(os.environ["MARKS"], "a") as fh:
        fh.write(f"start {shard} {time.time()}\\n")
    time.sleep(float(os.environ.get("SLEEP", "0.3")))
    if shard == os.environ.get("FAIL_SHARD"):
        sys.exit(3)
    with open(os.environ["MARKS"], "a") as fh:
        fh.write(f"end {shard} {time.time()}\\n")
"""


@pytest.fixture
def batch(monkeypatch):
    """A batch of ``n`` shard jobs; they see the submitter's environment, as every local run."""

    def make(folder, marks, n, *, sleep=0.3, fail=None, **kwargs) -> ChildBatch:
        monkeypatch.setenv("MARKS", str(marks))
        monkeypatch.setenv("SLEEP", str(sleep))
        monkeypatch.setenv("FAIL_SHARD", "" if fail is None else str(fail))
        return ChildBatch([ScriptRunConfig(str(folder), "shard.py", arguments=["--shard", i]) for i in range(n)],
                          **kwargs)

    return make


def events(marks) -> list[tuple[str, str, float]]:
    if not marks.exists():
        return []
    return [(kind, shard, float(t)) for kind, shard, t in (line.split() for line in marks.read_text().splitlines())]


def test_batch_runs_children_under_its_cap_and_completes(own_ws, project, tmp_path, batch):
    marks = tmp_path / "marks.txt"
    parent = Experiment(own_ws, "batch").submit(batch(project(shard=SHARD), marks, 4, max_concurrent_runs=1))
    details = parent.wait_for_completion()
    assert details["status"] == "Completed"
    children = sorted(parent.get_children(), key=lambda r: r.id)
    assert [c.id for c in children] == [f"{parent.id}_{i}" for i in range(4)]
    assert all(c.get_status() == "Completed" for c in children)
    assert all(c.parent.id == parent.id for c in children)
    # max_concurrent_runs=1: every child started after the previous one ended
    spans = {}
    for kind, shard, t in events(marks):
        spans.setdefault(shard, {})[kind] = t
    ordered = sorted(spans.values(), key=lambda s: s["start"])
    assert all(a["end"] <= b["start"] for a, b in zip(ordered, ordered[1:], strict=False))
    assert details["type"] == "scriptrun.batch"


def test_first_failure_cancels_the_rest_and_fails_the_parent(own_ws, project, tmp_path, batch):
    marks = tmp_path / "marks.txt"
    parent = Experiment(own_ws, "batch").submit(batch(project(shard=SHARD), marks, 4, sleep=1.0, fail=0,
                                                      max_concurrent_runs=2))
    details = parent.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert f"{parent.id}_0 (Failed)" in details["error"]["message"]
    statuses = {c.id: c.get_status() for c in parent.get_children()}
    assert statuses[f"{parent.id}_0"] == "Failed"
    assert set(statuses.values()) <= {"Failed", "Canceled", "Completed"}
    assert "Canceled" in statuses.values()  # children 2 and 3 never ran to the end
    assert len([e for e in events(marks) if e[0] == "start"]) < 4


def test_cancel_reaches_every_child_and_leaves_no_process(own_ws, project, tmp_path, batch):
    marks = tmp_path / "marks.txt"
    parent = Experiment(own_ws, "batch").submit(batch(project(shard=SHARD), marks, 3, sleep=60))
    wait_for(lambda: len(events(marks)) >= 2, timeout=60)
    running = [c for c in parent.get_children() if c.get_status() == "Running"]
    pids = [read_json(own_ws.run_dir(c.id) / "shim.json")["pids"][0] for c in running]
    parent.cancel()
    details = parent.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Canceled"
    assert all(c.get_status() == "Canceled" for c in parent.get_children())
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=30)


def test_batch_survives_an_agent_sigkill_without_lost_or_repeated_children(own_ws, project, tmp_path, batch):
    marks = tmp_path / "marks.txt"
    parent = Experiment(own_ws, "batch").submit(batch(project(shard=SHARD), marks, 5, sleep=1.0,
                                                      max_concurrent_runs=2))
    wait_for(lambda: len([e for e in events(marks) if e[0] == "end"]) >= 1, timeout=60)
    pid = send_request(own_ws.agent_socket, {"op": "ping"})["pid"]
    os.kill(pid, signal.SIGKILL)  # mid-batch: some children done, some running, some not yet created
    wait_for(lambda: not pid_alive(pid), timeout=10)
    assert read_json(own_ws.run_dir(parent.id) / CONTROLLER_FILE)["controller"].endswith(":BatchController")
    details = Run(parent.experiment, parent.id).wait_for_completion()  # a new agent starts and adopts it
    assert details["status"] == "Completed"
    started = [shard for kind, shard, _ in events(marks) if kind == "start"]
    ended = [shard for kind, shard, _ in events(marks) if kind == "end"]
    assert sorted(ended) == [str(i) for i in range(5)]  # every child ran to the end exactly once
    assert sorted(started) == sorted(set(started)) == [str(i) for i in range(5)]
    assert sorted(c.id for c in parent.get_children()) == [f"{parent.id}_{i}" for i in range(5)]


def test_batch_rejects_bad_input():
    with pytest.raises(ConfigError, match="at least one"):
        ChildBatch([])
    with pytest.raises(ConfigError, match=r"configs\[0\]"):
        ChildBatch(["train.py"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="max_concurrent_runs"):
        ChildBatch([ScriptRunConfig(".", "x.py")], max_concurrent_runs=0)


@pytest.mark.parametrize("continue_on_failure", [False, True])
def test_batch_controller_decisions_and_state_round_trip(continue_on_failure):
    children = [ChildRequest(run_id=f"p_{i}", spec={"source_directory": "."}) for i in range(3)]
    controller = BatchController(children, 2, continue_on_failure)
    assert [a.request.run_id for a in controller.start() if isinstance(a, SubmitChild)] == ["p_0", "p_1", "p_2"]
    controller = BatchController.from_state(controller.to_state())  # as after an agent restart
    assert controller.on_child_status(ChildInfo("p_1", "Running")) == []
    actions = controller.on_child_status(ChildInfo("p_0", "Failed"))
    again = controller.on_child_status(ChildInfo("p_0", "Failed"))  # a repeated event changes nothing
    assert again == []
    if continue_on_failure:
        assert actions == []
    else:
        assert {a.run_id for a in actions if isinstance(a, CancelChild)} == {"p_1", "p_2"}
    controller.on_child_status(ChildInfo("p_1", "Completed"))
    final = controller.on_child_status(ChildInfo("p_2", "Canceled" if not continue_on_failure else "Completed"))
    assert [type(a) for a in final] == [FinishParent]
    assert final[0].status == "Failed" and "p_0 (Failed)" in final[0].error["message"]
    assert all(action_from_json(action_to_json(a)) == a for a in [*actions, *final])
