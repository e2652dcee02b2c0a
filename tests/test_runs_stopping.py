"""How a local run ends when it does not end by itself: the deadline, cancel, a killed
submitter, a killed agent (the run is adopted, or its true end recorded), and an idle agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import make_workspace, pid_alive, stop_agent, submit_script, wait_for
from scriptrun.agent.client import send_request
from scriptrun.config import ScriptRunConfig
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run

pytestmark = pytest.mark.slow


def _parent_of_a_sleeping_child(project, pid_file: Path, message: str) -> Path:
    """A script that starts a child process (its pid in ``pid_file``), prints ``message``
    and sleeps: stopping the run must stop both."""
    return project(train=f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print({message!r}, flush=True)
        time.sleep(120)
    """)


def test_timeout_fails_run_and_kills_the_process_tree(shared_ws, project, tmp_path):
    pid_file = tmp_path / "child.pid"
    folder = _parent_of_a_sleeping_child(project, pid_file, "started child")
    run = submit_script(shared_ws, folder, max_run_duration_seconds=2)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["code"] == "RunTimeout"
    assert "max_run_duration_seconds=2" in details["error"]["message"]
    child = int(pid_file.read_text())
    wait_for(lambda: not pid_alive(child), timeout=5)
    assert "started child" in Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()


def test_cancel_stops_every_process_and_ends_canceled(shared_ws, project, tmp_path):
    pid_file = tmp_path / "child.pid"
    folder = _parent_of_a_sleeping_child(project, pid_file, "running")
    run = submit_script(shared_ws, folder)
    wait_for(pid_file.exists, timeout=30)
    run.cancel()
    details = run.wait_for_completion()
    assert details["status"] == "Canceled"
    wait_for(lambda: not pid_alive(int(pid_file.read_text())), timeout=5)
    assert "running" in Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()
    run.cancel()  # cancelling a finished run is harmless
    assert run.get_status() == "Canceled"


def test_killing_the_submitter_does_not_stop_the_run(shared_ws, project, tmp_path):
    marker = tmp_path / "finished.txt"
    folder = project(train=f"""
        import time
        time.sleep(2)
        open({str(marker)!r}, "w").write("done")
    """)
    submitter = textwrap.dedent(f"""
        import sys, time
        from scriptrun.config import ScriptRunConfig
        from scriptrun.runs.experiment import Experiment
        from scriptrun.workspace import Workspace
        run = Experiment(Workspace.get({str(shared_ws.root)!r}), "tests").submit(
            ScriptRunConfig({str(folder)!r}, "train.py"))
        print(run.id, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", submitter], stdout=subprocess.PIPE, text=True)
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run = Run(Experiment(shared_ws, "tests"), run_id)
    assert run.wait_for_completion()["status"] == "Completed"
    assert marker.read_text() == "done"


def test_killing_the_agent_mid_run_loses_nothing(own_ws, project, tmp_path):
    go = tmp_path / "go"
    folder = project(train=f"""
        import os, time
        from scriptrun.runs.context import get_context
        run = get_context()
        for i in range(100):
            run.log("step", i)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.05)
        for i in range(100, 200):
            run.log("step", i)
        open("outputs/result.txt", "w").write("ok")
    """)
    run = submit_script(own_ws, folder)
    wait_for(lambda: run.get_status() == "Running", timeout=60)
    old_pid = send_request(own_ws.agent_socket, {"op": "ping"})["pid"]
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(old_pid), timeout=10)
    go.write_text("")
    details = run.wait_for_completion()  # restarts the agent, which adopts the run
    assert send_request(own_ws.agent_socket, {"op": "ping"})["pid"] != old_pid
    assert details["status"] == "Completed"
    assert run.get_metrics()["step"] == list(range(200))
    assert "outputs/result.txt" in run.get_file_names()


def test_agent_killed_while_the_run_finishes_records_the_true_end_state(own_ws, project):
    folder = project(train="""
        import sys, time
        time.sleep(1.5)
        sys.exit(3)
    """)
    run = submit_script(own_ws, folder)
    wait_for(lambda: run.get_status() == "Running", timeout=60)
    pid = send_request(own_ws.agent_socket, {"op": "ping"})["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: (own_ws.run_dir(run.id) / "exit.json").exists(), timeout=30)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["exit_code"] == 3


def test_agent_stops_when_idle(tmp_path, project):

    ws = make_workspace(tmp_path / "idle", agent_idle_timeout_seconds=1)
    try:
        run = Experiment(ws, "idle").submit(ScriptRunConfig(str(project(train="print(1)")), "train.py"))
        run.wait_for_completion()
        pid = send_request(ws.agent_socket, {"op": "ping"})["pid"]
        wait_for(lambda: not pid_alive(pid), timeout=30)
        assert not ws.agent_socket.exists()
        assert run.get_status() == "Completed"  # a new agent starts on demand and knows the run
    finally:
        stop_agent(ws)

