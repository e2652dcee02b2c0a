"""What a user sees of scriptrun runs in MLflow: params, names, user, description, the full
error, tables and images, properties, the job YAML, and the UI (`scriptrun ui`) in headless
Chromium. One workspace with a completed run, a failed run and a pipeline (a parent with
children) serves every test of the module."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from conftest import make_workspace, stop_agent, wait_for
from scriptrun import Experiment, ScriptRunConfig
from scriptrun.pipeline.pipeline import Pipeline
from scriptrun.pipeline.steps import PythonScriptStep

pytestmark = pytest.mark.slow

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

TRAIN = """
    import sys
    from scriptrun import Run
    run = Run.get_context()
    run.log("loss", 0.5)
    run.log_row("per_epoch", epoch=1, acc=0.7)
    run.log_row("per_epoch", epoch=2, acc=0.8)
    run.log_table("confusion", {"label": ["a", "b"], "count": [3, 4]})
    run.log_image("sample", path="pixel.png")
    run.add_properties({"stage": "baseline"})
    print("args", sys.argv[1:])
"""

FAIL = """
    import sys
    print("about to fail")
    print("Traceback: ValueError: the data has no column 'label'", file=sys.stderr)
    sys.exit(3)
"""

JOB_YAML = """\
# my training job
description: Baseline **model** for the notebook demo
source_directory: .
script: train.py
arguments: [--lr, 0.01, --epochs, 3, --verbose, --mode=fast, data.csv]
"""


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlview")
    folder = root / "src"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(TRAIN))
    (folder / "fail.py").write_text(textwrap.dedent(FAIL))
    (folder / "pixel.png").write_bytes(PNG)
    (folder / "job.yml").write_text(JOB_YAML)
    ws = make_workspace(root / "ws")
    exp = Experiment(ws, "demo")
    good = exp.submit(ScriptRunConfig.from_yaml(folder / "job.yml"))
    bad = exp.submit(ScriptRunConfig(str(folder), "fail.py", arguments=["--lr", 0.5]))
    steps = [PythonScriptStep(name=name, script_run_config=ScriptRunConfig(str(folder), "train.py",
                                                                           arguments=["--step", name]))
             for name in ("prep", "train")]
    pipe = Pipeline(ws, steps).submit("demo-pipe")
    good.wait_for_completion()
    bad.wait_for_completion(raise_on_error=False)
    pipe.wait_for_completion(show_output=False)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(ws.tracking_uri)
    yield {"ws": ws, "good": good, "bad": bad, "pipe": pipe, "client": client}
    stop_agent(ws)


def _mlrun(view, run):
    return view["client"].get_run(run.get_details()["mlflowRunId"])


def test_arguments_and_how_it_ran_are_params(view):
    params = _mlrun(view, view["good"]).data.params
    assert params["lr"] == "0.01" and params["epochs"] == "3"
    assert params["verbose"] == "true" and params["mode"] == "fast" and params["arg_0"] == "data.csv"
    assert params["node_count"] == "1" and params["compute_target"] == "local"
    assert _mlrun(view, view["bad"]).data.params["lr"] == "0.5"


def test_name_user_description_and_scheduled_status(view):
    good = _mlrun(view, view["good"])
    assert re.fullmatch(r"demo-\d+", good.info.run_name), good.info.run_name
    assert view["good"].display_name == good.info.run_name
    assert good.data.tags["mlflow.user"] == (os.environ.get("USER") or os.environ.get("LOGNAME") or good.info.user_id)
    assert good.data.tags["mlflow.note.content"] == "Baseline **model** for the notebook demo"
    assert view["good"].description == "Baseline **model** for the notebook demo"
    assert good.info.status == "FINISHED"
    view["good"].display_name = "baseline"
    wait_for(lambda: _mlrun(view, view["good"]).info.run_name == "baseline", timeout=10)  # written in the background


def test_failed_run_shows_its_full_error(view):
    bad = _mlrun(view, view["bad"])
    assert bad.info.status == "FAILED"
    note = bad.data.tags["mlflow.note.content"]
    assert "exited with code 3" in note and "no column 'label'" in note
    files = view["bad"].get_file_names()
    assert "error.txt" in files
    dst = Path(view["bad"].download_file("error.txt", str(view["ws"].root / "dl")))
    text = dst.read_text()
    assert "exit code: 3" in text and "ValueError: the data has no column 'label'" in text


def test_tables_images_properties_and_job_yaml(view):
    run = view["good"]
    files = run.get_file_names()
    assert {"tables/per_epoch.json", "tables/confusion.json", "scriptrun/job.json", "scriptrun/job.yml"} <= set(files)
    assert run.get_metrics()["sample"] in files and run.get_metrics()["sample"].startswith("images/"), files
    table = json.loads(Path(run.download_file("tables/per_epoch.json", str(view["ws"].root / "dl"))).read_text())
    assert table["columns"] == ["epoch", "acc"] and table["data"] == [[1, 0.7], [2, 0.8]]
    mlrun = _mlrun(view, run)
    logged = json.loads(mlrun.data.tags["mlflow.loggedArtifacts"])
    assert {"path": "tables/confusion.json", "type": "table"} in logged
    assert mlrun.data.tags["scriptrun.property.stage"] == "baseline"
    assert "description: Baseline" in Path(run.download_file("scriptrun/job.yml", str(view["ws"].root / "dl"))
                                           ).read_text()


def test_pipeline_steps_are_named_children(view):
    parent = view["pipe"]
    children = {c.get_details()["displayName"]: c for c in parent.get_children()}
    assert set(children) == {"prep", "train"}
    mlchild = _mlrun(view, children["train"])
    assert mlchild.info.run_name == "train" and mlchild.data.params["step"] == "train"
    assert mlchild.data.tags["mlflow.parentRunId"] == parent.get_details()["mlflowRunId"]


# -- scriptrun ui ----------------------------------------------------------------------------


def _scriptrun(*args: str, **kwargs):
    return subprocess.Popen([str(Path(sys.executable).parent / "scriptrun"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_ui_on_a_taken_port_is_a_clear_error(view):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _scriptrun("ui", "--port", str(port), "-w", str(view["ws"].root))
        out, errors = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"cannot serve the MLflow UI on 127.0.0.1:{port}" in errors and "--port 0" in errors
    assert "[SR-PORT-IN-USE] see docs/troubleshooting/port-in-use.md" in errors


def _dom(chromium: str, url: str, shot: Path) -> str:
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
              "--window-size=1400,2200"]
    subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    return subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout


def test_ui_shows_params_and_errors_in_chromium(view, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (scripts/setup.sh installs Debian's chromium package)")
    proc = _scriptrun("ui", "--port", "0", "-w", str(view["ws"].root), start_new_session=True)
    try:
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        base = f"http://127.0.0.1:{match.group(1)}"

        def up() -> bool:
            try:
                return urllib.request.urlopen(base + "/health", timeout=2).status == 200
            except OSError:
                return False

        wait_for(up, timeout=90, interval=0.5)
        good, bad = _mlrun(view, view["good"]), _mlrun(view, view["bad"])
        exp_url = f"{base}/#/experiments/{good.info.experiment_id}"
        artifacts = Path(os.environ.get("SCRIPTRUN_UI_SHOTS", tmp_path))
        artifacts.mkdir(parents=True, exist_ok=True)
        page = _dom(chromium, f"{exp_url}/runs/{good.info.run_id}?workflowType=machine_learning",
                    artifacts / "run.png")
        assert "lr" in page and "0.01" in page and "epochs" in page, page[-3000:]
        assert "Baseline" in page
        page = _dom(chromium, f"{exp_url}/runs/{bad.info.run_id}?workflowType=machine_learning",
                    artifacts / "failed-run.png")
        assert "exited with code 3" in page, page[-3000:]
        listing = _dom(chromium, f"{exp_url}?workflowType=machine_learning", artifacts / "experiment.png")
        assert bad.info.run_name in listing and "Model training" in listing, listing[-3000:]
        assert "Evaluation runs" not in listing
        parent = view["client"].get_run(view["pipe"].get_details()["mlflowRunId"])
        listing = _dom(chromium, f"{base}/#/experiments/{parent.info.experiment_id}?workflowType=machine_learning",
                       artifacts / "pipeline.png")
        assert parent.info.run_name in listing, listing[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
