"""MLflow writes queued by an agent that is SIGKILLed are not lost: the next agent replays
them from the run folder (``mlflow.json`` says how far each run got)."""

from __future__ import annotations

import os
import signal

import pytest

from conftest import pid_alive, wait_for
from scriptrun import Experiment, ScriptRunConfig
from scriptrun.agent import protocol
from scriptrun.agent.client import send_request
from scriptrun.runs.run import agent_client

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def test_a_killed_agent_s_queued_mlflow_writes_are_replayed(own_ws, project):
    folder = project(train="from scriptrun import Run\nRun.get_context().log('acc', 0.9)\nprint('done')\n")
    ws = own_ws  # a new store: MLflow takes seconds to load and create it
    run = Experiment(ws, "replay").submit(ScriptRunConfig(str(folder), "train.py", arguments=["--lr", 0.1]))
    client = agent_client(ws)
    pid = send_request(ws.agent_socket, protocol.Ping())["pid"]
    wait_for(lambda: client.request(protocol.Status(run_id=run.id)) == "Completed", timeout=60, interval=0.02)
    run_dir = ws.run_dir(run.id)
    written = (run_dir / "mlflow.json").exists()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), timeout=10)
    if written:
        pytest.skip("MLflow was loaded before the run ended: nothing was left queued to replay")

    details = run.wait_for_completion()  # a new agent starts, replays the creation and the end
    assert details["status"] == "Completed"
    from mlflow.tracking import MlflowClient

    mlrun = MlflowClient(ws.tracking_uri).get_run(details["mlflowRunId"])
    assert mlrun.info.status == "FINISHED" and mlrun.info.run_name == "replay-1"
    assert mlrun.data.params["lr"] == "0.1" and mlrun.data.metrics["acc"] == 0.9
    assert {"user_logs/std_log.txt", "scriptrun/job.json"} <= set(run.get_file_names())
    assert not (run_dir / "wd").exists() or not any((run_dir / "wd").iterdir())
