"""A local run's metrics and tracking: what was logged survives the script's crash, images
become files, and the tracking store can be an MLflow server over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from conftest import make_workspace, stop_agent, submit_script, wait_for
from scriptrun.config import ScriptRunConfig
from scriptrun.runs.experiment import Experiment

pytestmark = pytest.mark.slow


def test_metrics_survive_sigkill_after_logging(shared_ws, project):
    folder = project(train="""
        import os, signal
        from scriptrun.runs.context import get_context
        run = get_context()
        for i in range(2000):
            run.log("x", i)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    run = submit_script(shared_ws, folder)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["exit_code"] == -9
    assert run.get_metrics()["x"] == list(range(2000))


def test_metrics_survive_an_exception_after_logging(shared_ws, project):
    folder = project(train="""
        from scriptrun.runs.context import get_context
        run = get_context()
        run.log("acc", 0.9)
        raise SystemExit("stopping")
    """)
    run = submit_script(shared_ws, folder)
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Failed"
    assert run.get_metrics() == {"acc": 0.9}


def test_log_image_uploads_the_file(shared_ws, project, tmp_path):
    png = tmp_path / "curve.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    folder = project(train=f"""
        from scriptrun import Run
        Run.get_context().log_image("curve", path={str(png)!r})
    """)
    run = submit_script(shared_ws, folder)
    run.wait_for_completion()
    image = run.get_metrics()["curve"]
    assert image.startswith("images/") and image in run.get_file_names()


def test_tracking_uri_can_be_an_mlflow_server(tmp_path, project):
    """`scriptrun tracking serve` serves a workspace's store; another workspace logs to it over HTTP."""
    import socket


    store_ws = make_workspace(tmp_path / "store")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "scriptrun", "tracking", "serve", "--port", str(port),
                               "-w", str(store_ws.root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    ws = make_workspace(tmp_path / "client", tracking_uri=uri)
    try:
        import urllib.request

        wait_for(lambda: _http_ok(urllib.request, f"{uri}/health"), timeout=90, interval=0.5)
        folder = project(train="""
            import mlflow
            from scriptrun import Run
            Run.get_context().log("acc", 0.75)
            mlflow.log_metric("direct", 1.5)
            open("outputs/model.txt", "w").write("m")
        """)
        run = Experiment(ws, "over-http").submit(ScriptRunConfig(str(folder), "train.py"))
        details = run.wait_for_completion()
        assert details["trackingUri"] == uri
        assert run.get_metrics() == {"acc": 0.75, "direct": 1.5}
        assert "outputs/model.txt" in run.get_file_names()
        from mlflow.tracking import MlflowClient

        assert MlflowClient(uri).get_run(details["mlflowRunId"]).data.metrics["acc"] == 0.75
    finally:
        stop_agent(ws)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _http_ok(urllib_request, url: str) -> bool:
    try:
        with urllib_request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False

