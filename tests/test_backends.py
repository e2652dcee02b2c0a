"""The compute backend contract, run against every backend: ``local`` (virtual nodes on this
machine) and ``ray`` (a real two-node Ray cluster on loopback). Each test submits real
scripts through the agent and checks what a user sees."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from conftest import make_workspace, pid_alive, stop_agent, wait_for
from scriptrun import ConfigError, Experiment, PyTorchConfiguration, ScriptRunConfig
from scriptrun.compute.targets import ComputeTarget, RayCluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["local", pytest.param("ray", marks=pytest.mark.ray)])
def target(request, tmp_path_factory):
    """(workspace, compute target name) for each backend."""
    ws = make_workspace(tmp_path_factory.mktemp(request.param), max_concurrent_runs=2)
    name = "local"
    if request.param == "ray":
        address = request.getfixturevalue("ray_cluster")
        name = ComputeTarget.attach(ws, "ray-contract", RayCluster.attach_configuration(address=address)).name
    yield ws, name
    stop_agent(ws)


def submit(target, folder, script="job.py", **kwargs):
    ws, name = target
    return Experiment(ws, "contract").submit(ScriptRunConfig(str(folder), script, compute_target=name, **kwargs))


def test_a_run_completes_with_its_logs_metrics_and_outputs(target, project):
    folder = project(job="""
        from scriptrun import Run
        run = Run.get_context()
        for i in range(3):
            run.log("step", i)
        open("outputs/model.txt", "w").write("weights")
        print("hello from the job", flush=True)
    """)
    run = submit(target, folder)
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert run.get_metrics()["step"] == [0, 1, 2]
    assert "outputs/model.txt" in run.get_file_names()
    log = [name for name in details["logFiles"] if name.endswith("std_log.txt")]
    assert log and "hello from the job" in Path(details["logFiles"][log[0]]).read_text()
    assert list(details["phaseTimesUtc"])[:3] == ["Queued", "Preparing", "Running"]


def test_a_failing_run_reports_its_exit_code_and_stderr(target, project):
    folder = project(job="""
        import sys
        print("something broke", file=sys.stderr)
        sys.exit(7)
    """)
    details = submit(target, folder).wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["exit_code"] == 7
    assert "something broke" in details["error"]["stderr_tail"]


def test_cancel_stops_the_whole_process_tree(target, project, tmp_path):
    pids = tmp_path / "pids.json"
    folder = project(job=f"""
        import json, os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        json.dump([os.getpid(), child.pid], open({str(pids)!r}, "w"))
        time.sleep(300)
    """)
    run = submit(target, folder)
    wait_for(pids.exists, timeout=90)
    run.cancel()
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Canceled"
    wait_for(lambda: not any(pid_alive(p) for p in json.loads(pids.read_text())), timeout=30)


def test_the_deadline_fails_the_run_and_stops_it(target, project, tmp_path):
    pid_file = tmp_path / "pid"
    folder = project(job=f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(300)
    """)
    details = submit(target, folder, max_run_duration_seconds=3).wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed" and details["error"]["code"] == "RunTimeout"
    wait_for(lambda: not pid_alive(int(pid_file.read_text())), timeout=30)


def test_no_process_of_a_finished_rank_survives(target, project, tmp_path):
    """A 2-node job where rank 1 starts a child and exits 3: the run fails, and neither rank 0
    nor rank 1's child is left running (on both backends)."""
    pids = tmp_path / "pids"
    pids.mkdir()
    folder = project(job=f"""
        import os, subprocess, sys, time
        rank = os.environ["RANK"]
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        open(os.path.join({str(pids)!r}, rank), "w").write(f"{{os.getpid()}} {{child.pid}}")
        if rank == "1":
            time.sleep(2)
            sys.exit(3)
        time.sleep(300)
    """)
    details = submit(target, folder, node_count=2,
                     distributed_job_config=PyTorchConfiguration("Gloo", process_count=2, node_count=2)
                     ).wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed" and details["error"]["exit_code"] == 3
    left = [int(p) for f in pids.iterdir() for p in f.read_text().split()]
    assert len(left) == 4
    wait_for(lambda: not any(pid_alive(p) for p in left), timeout=30)


@pytest.mark.ray
def test_an_unreachable_ray_cluster_fails_the_submission_not_the_run(tmp_path, project):
    ws = make_workspace(tmp_path / "ws")
    with socket.socket() as sock:  # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ComputeTarget.attach(ws, "gone", RayCluster.attach_configuration(address=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(ConfigError, match="cannot reach the Ray cluster"):
            Experiment(ws, "contract").submit(ScriptRunConfig(str(project(job="print(1)")), "job.py",
                                                              compute_target="gone"))
    finally:
        stop_agent(ws)
