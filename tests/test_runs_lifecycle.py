"""A local run from submit to its end (real agent, shim, subprocesses and MLflow store):
what a completed or failed run records, its phases, its log streamed while it runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import submit_script
from scriptrun.config import ScriptRunConfig
from scriptrun.errors import ActivityFailedException, RunError
from scriptrun.runs.experiment import Experiment

pytestmark = pytest.mark.slow


def test_completed_run_records_logs_outputs_metrics_and_contract(shared_ws, project):
    folder = project(train="""
        import json, os, sys
        env_at_start = dict(os.environ)  # mlflow's fluent API removes MLFLOW_RUN_ID once used
        import mlflow
        from scriptrun.runs.context import get_context
        run = get_context()
        for i in range(3):
            run.log("loss", 1.0 / (i + 1))
        run.log("note", "text")
        run.log_list("accs", [0.1, 0.2])
        run.log_row("table", epoch=1, acc=0.5)
        run.log_row("table", epoch=2, acc=0.7)
        run.tag("phase", "train")
        mlflow.log_metric("plain_mlflow", 42.0)
        keys = ["SCRIPTRUN_RUN_ID", "SCRIPTRUN_WORKSPACE", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID",
                "AZUREML_RUN_ID", "MY_VAR"]
        with open("outputs/env.json", "w") as fh:
            json.dump({"env": {k: env_at_start.get(k) for k in keys}, "argv": sys.argv[1:],
                       "cwd": os.getcwd(), "logs_dir": os.path.isdir("logs")}, fh)
        print("training done")
    """)
    run = submit_script(shared_ws, folder, arguments=["--lr", 0.5, "--run", "$AZUREML_RUN_ID"],
                 environment=None)
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert run.get_status() == "Completed"

    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert metrics["note"] == "text"
    assert metrics["accs"] == [0.1, 0.2]
    assert metrics["table"] == {"epoch": [1, 2], "acc": [0.5, 0.7]}
    assert metrics["plain_mlflow"] == 42.0
    assert run.get_tags()["phase"] == "train"

    names = run.get_file_names()
    assert "outputs/env.json" in names and "user_logs/std_log.txt" in names
    env_file = Path(run.download_file("outputs/env.json", shared_ws.root / "dl" / "env.json"))
    seen = json.loads(env_file.read_text())
    assert seen["env"]["SCRIPTRUN_RUN_ID"] == run.id == seen["env"]["AZUREML_RUN_ID"]
    assert seen["env"]["MLFLOW_TRACKING_URI"] == shared_ws.tracking_uri
    assert seen["env"]["MLFLOW_RUN_ID"] == details["mlflowRunId"]
    assert seen["argv"] == ["--lr", "0.5", "--run", run.id]  # numbers as str, $VAR expanded
    assert seen["logs_dir"] is True
    assert Path(seen["cwd"]) != folder  # a working copy, not the source folder

    log_text = Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()
    assert "training done" in log_text

    # the same run, seen straight from the MLflow store
    from mlflow.tracking import MlflowClient

    mlrun = MlflowClient(shared_ws.tracking_uri).get_run(details["mlflowRunId"])
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.tags["scriptrun.status"] == "Completed"
    assert mlrun.data.metrics["loss"] == pytest.approx(0.2 * 5 / 3)
    assert mlrun.data.metrics["plain_mlflow"] == 42.0


def test_crashing_script_fails_with_exit_code_and_stderr_tail(shared_ws, project):
    folder = project(train="""
        print("about to crash")
        raise RuntimeError("boom: bad learning rate")
    """)
    run = submit_script(shared_ws, folder)
    with pytest.raises(ActivityFailedException, match="bad learning rate") as info:
        run.wait_for_completion()
    details = run.get_details()
    assert details["status"] == "Failed"
    assert details["error"]["exit_code"] == 1
    assert "RuntimeError: boom" in details["error"]["stderr_tail"]
    assert info.value.error_details["exit_code"] == 1
    log_text = Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()
    assert "about to crash" in log_text and "Traceback" in log_text
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Failed"


def test_status_goes_through_every_phase_in_order(shared_ws, project):
    folder = project(train="print('ok')")
    details = submit_script(shared_ws, folder).wait_for_completion()
    phases = details["phaseTimesUtc"]
    assert list(phases) == ["Queued", "Preparing", "Running", "Finalizing", "Completed"]
    assert list(phases.values()) == sorted(phases.values())


def test_command_runs_through_the_shell_when_a_string(shared_ws, project):
    folder = project(train="print('unused')")
    (folder / "data.txt").write_text("payload")
    run = Experiment(shared_ws, "tests").submit(
        ScriptRunConfig(str(folder), command="cat data.txt && echo \" via $SCRIPTRUN_EXPERIMENT\""))
    details = run.wait_for_completion()
    assert "payload via tests" in Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()


def test_wait_for_completion_streams_the_log(shared_ws, project, capsys):
    folder = project(train="""
        for i in range(3):
            print(f"epoch {i}", flush=True)
    """)
    run = submit_script(shared_ws, folder)
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert f"RunId: {run.id}" in out
    assert "epoch 0\nepoch 1\nepoch 2" in out
    assert "Status: Completed" in out


def test_log_streaming_follows_the_build_log_then_switches_to_rank_0(tmp_path, capsys):
    from scriptrun.runs.run import _LogStreamer

    logs = tmp_path / "logs"
    logs.mkdir()
    streamer = _LogStreamer(logs)
    (logs / "environment_build.txt").write_text("resolving packages\n")
    streamer.pump()
    with open(logs / "environment_build.txt", "a") as fh:
        fh.write("installed 2 packages\n")
    (logs / "rank_1.txt").write_text("rank 1 says hi\n")
    (logs / "rank_0.txt").write_text("epoch 0\n")
    streamer.pump()
    with open(logs / "rank_0.txt", "a") as fh:
        fh.write("epoch 1\n")
    streamer.pump()
    assert capsys.readouterr().out == "resolving packages\ninstalled 2 packages\nepoch 0\nepoch 1\n"


def test_run_folder_is_private_and_run_ids_are_checked(shared_ws, project):
    folder = project(train="print('ok')")
    run = submit_script(shared_ws, folder)
    run.wait_for_completion()
    assert shared_ws.run_dir(run.id).stat().st_mode & 0o777 == 0o700  # it holds the submitter's environment
    with pytest.raises(RunError, match="invalid run id"):
        Experiment(shared_ws, "tests").submit(ScriptRunConfig(str(folder), "train.py"), run_id="../escape")

