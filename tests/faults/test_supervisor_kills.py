"""A killed supervisor: the shim SIGKILLed under a silent job, and the agent SIGKILLed while a
run waits in the queue or while its environment builds. Nothing is lost, duplicated or left
running (issue 12 #4 and the fault suite's "agent SIGKILL at every phase"; the Running and
finishing phases are in tests/test_runs_stopping.py, a batch's children in tests/test_controllers.py)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from conftest import make_workspace, pid_alive, stop_agent, wait_for
from scriptrun.agent.client import send_request
from scriptrun.config import ScriptRunConfig
from scriptrun.environment import CondaDependencies, Environment
from scriptrun.environment.builder import envs_dir
from scriptrun.rundir import SHIM_FILE
from scriptrun.runs.experiment import Experiment
from scriptrun.workspace import Workspace

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _kill_agent(ws: Workspace) -> None:
    pid = send_request(ws.agent_socket, {"op": "ping"})["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), timeout=10)


def test_a_killed_shim_stops_the_job_and_says_so(own_ws, project, tmp_path):
    """The script prints nothing and has no deadline: without the agent's clean-up it (and its
    child) would run forever in their own sessions."""
    pids = tmp_path / "pids"
    folder = project(train=f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(600)
    """)
    run = Experiment(own_ws, "faults").submit(ScriptRunConfig(str(folder), "train.py"))
    wait_for(pids.exists, timeout=60)
    script, child = (int(p) for p in pids.read_text().split())
    shim = json.loads((own_ws.run_dir(run.id) / SHIM_FILE).read_text())["pid"]
    os.kill(shim, signal.SIGKILL)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "supervisor (shim) died" in details["error"]["message"]
    wait_for(lambda: not pid_alive(script) and not pid_alive(child), timeout=10)


def test_agent_killed_while_runs_wait_in_the_queue(tmp_path, project):
    """Each queued run runs exactly once after the restart, in submission order."""
    ws = make_workspace(tmp_path / "ws", max_concurrent_runs=1)
    try:
        go, ran = tmp_path / "go", tmp_path / "ran.txt"
        folder = project(train=f"""
            import os, sys, time
            while not os.path.exists({str(go)!r}):
                time.sleep(0.05)
            with open({str(ran)!r}, "a") as fh:
                fh.write(sys.argv[1] + "\\n")
        """)
        exp = Experiment(ws, "faults")
        runs = [exp.submit(ScriptRunConfig(str(folder), "train.py", arguments=[str(i)])) for i in range(3)]
        wait_for(lambda: runs[0].get_status() == "Running", timeout=60)
        assert [r.get_status() for r in runs[1:]] == ["Queued", "Queued"]
        _kill_agent(ws)
        go.write_text("")
        assert [r.wait_for_completion()["status"] for r in runs] == ["Completed"] * 3  # restarts the agent
        assert ran.read_text().split() == ["0", "1", "2"]
    finally:
        stop_agent(ws)


GATED_BACKEND = """
import base64, hashlib, os, time, zipfile

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open({pids!r}, "a") as fh:
        fh.write(f"{{os.getpid()}}\\n")
    while not os.path.exists({go!r}):
        time.sleep(0.05)
    files = {{"gatedpkg/__init__.py": b"VALUE = 42\\n",
             "gatedpkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: gatedpkg\\nVersion: 1.0\\n",
             "gatedpkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}}
    name = "gatedpkg-1.0-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
        record.append("gatedpkg-1.0.dist-info/RECORD,,")
        zf.writestr("gatedpkg-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
    return name
"""


def test_agent_killed_while_the_environment_builds(own_ws, project, tmp_path):
    """The restarted agent stops the build step the dead one left running (else it would hold
    uv's cache lock and block the new build), prepares the run again, removes the abandoned
    half-built folder and builds the environment once into the cache."""
    package, pids, go = tmp_path / "gatedpkg", tmp_path / "builders", tmp_path / "go"
    package.mkdir()
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "gatedbackend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "gatedpkg"\nversion = "1.0"\n')
    (package / "gatedbackend.py").write_text(GATED_BACKEND.format(pids=str(pids), go=str(go)))
    folder = project(train="import gatedpkg; print('VALUE', gatedpkg.VALUE)\n")
    env = Environment("gated")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=[f"gatedpkg @ {package.as_uri()}"])
    run = Experiment(own_ws, "faults").submit(ScriptRunConfig(str(folder), "train.py", environment=env))
    wait_for(pids.exists, timeout=120)
    assert run.get_status() == "Preparing"
    _kill_agent(own_ws)
    run.get_status()  # any request restarts the agent, which queues the run again
    wait_for(lambda: len(pids.read_text().split()) == 2, timeout=120)  # the second build is waiting
    go.write_text("")
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Completed", details.get("error")
    assert "VALUE 42" in Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()
    wait_for(lambda: not any(pid_alive(int(p)) for p in pids.read_text().split()), timeout=30)
    entries = sorted(p.name for p in envs_dir(own_ws).iterdir() if p.name != ".locks")
    assert len(entries) == 1 and not entries[0].startswith("."), entries  # no half-built folder left
