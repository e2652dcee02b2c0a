"""End-to-end local runs: real agent, real shim, real subprocesses, real MLflow store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import pid_alive, wait_for
from scriptrun.agent.client import send_request
from scriptrun.config import ScriptRunConfig
from scriptrun.errors import ActivityFailedException
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run

pytestmark = pytest.mark.slow


def submit(ws, folder, script="train.py", **kwargs) -> Run:
    return Experiment(ws, "tests").submit(ScriptRunConfig(str(folder), script, **kwargs))


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
    run = submit(shared_ws, folder, arguments=["--lr", 0.5, "--run", "$AZUREML_RUN_ID"],
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
    run = submit(shared_ws, folder)
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


def test_timeout_fails_run_and_kills_the_process_tree(shared_ws, project, tmp_path):
    pid_file = tmp_path / "child.pid"
    folder = project(train=f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print("started child", flush=True)
        time.sleep(120)
    """)
    run = submit(shared_ws, folder, max_run_duration_seconds=2)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["code"] == "RunTimeout"
    assert "max_run_duration_seconds=2" in details["error"]["message"]
    child = int(pid_file.read_text())
    wait_for(lambda: not pid_alive(child), timeout=5)
    assert "started child" in Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()


def test_cancel_stops_every_process_and_ends_canceled(shared_ws, project, tmp_path):
    pid_file = tmp_path / "child.pid"
    folder = project(train=f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print("running", flush=True)
        time.sleep(120)
    """)
    run = submit(shared_ws, folder)
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
    run = submit(own_ws, folder)
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
    run = submit(own_ws, folder)
    wait_for(lambda: run.get_status() == "Running", timeout=60)
    pid = send_request(own_ws.agent_socket, {"op": "ping"})["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: (own_ws.run_dir(run.id) / "exit.json").exists(), timeout=30)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["exit_code"] == 3


def test_metrics_survive_sigkill_after_logging(shared_ws, project):
    folder = project(train="""
        import os, signal
        from scriptrun.runs.context import get_context
        run = get_context()
        for i in range(2000):
            run.log("x", i)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    run = submit(shared_ws, folder)
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
    run = submit(shared_ws, folder)
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Failed"
    assert run.get_metrics() == {"acc": 0.9}


def test_wait_for_completion_streams_the_log(shared_ws, project, capsys):
    folder = project(train="""
        for i in range(3):
            print(f"epoch {i}", flush=True)
    """)
    run = submit(shared_ws, folder)
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert f"RunId: {run.id}" in out
    assert "epoch 0\nepoch 1\nepoch 2" in out
    assert "Status: Completed" in out


def test_command_runs_through_the_shell_when_a_string(shared_ws, project):
    folder = project(train="print('unused')")
    (folder / "data.txt").write_text("payload")
    run = Experiment(shared_ws, "tests").submit(
        ScriptRunConfig(str(folder), command="cat data.txt && echo \" via $SCRIPTRUN_EXPERIMENT\""))
    details = run.wait_for_completion()
    assert "payload via tests" in Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()


def test_tags_properties_and_uploads_from_the_handle(shared_ws, project, tmp_path):
    folder = project(train="print('ok')")
    run = submit(shared_ws, folder)
    run.wait_for_completion()
    run.tag("team", "vision")
    run.set_tags({"stage": "dev"})
    assert {"team": "vision", "stage": "dev"}.items() <= run.get_tags().items()
    run.add_properties({"owner": "ana"})
    assert run.get_properties()["owner"] == "ana"
    from scriptrun.errors import RunError

    with pytest.raises(RunError, match="add-only"):
        run.add_properties({"owner": "bob"})
    note = tmp_path / "note.txt"
    note.write_text("hello")
    run.upload_file("extra/note.txt", str(note))
    folder_up = tmp_path / "bundle"
    (folder_up / "sub").mkdir(parents=True)
    (folder_up / "sub" / "a.txt").write_text("a")
    run.upload_folder("bundle", str(folder_up))
    names = run.get_file_names()
    assert "extra/note.txt" in names and "bundle/sub/a.txt" in names
    out = tmp_path / "out"
    written = run.download_files(prefix="bundle", output_directory=str(out))
    assert (out / "bundle" / "sub" / "a.txt").read_text() == "a" and len(written) == 1
    with pytest.raises(RunError, match="no file"):
        run.download_file("missing.txt", str(tmp_path / "x"))


def test_experiment_lists_runs_and_rehydrates(shared_ws, project):
    folder = project(train="print('ok')")
    exp = Experiment(shared_ws, "listing")
    run = exp.submit(ScriptRunConfig(str(folder), "train.py"), tags={"kind": "smoke"})
    run.wait_for_completion()
    ids = [r.id for r in exp.get_runs()]
    assert run.id in ids
    assert [r.id for r in exp.get_runs(tags={"kind": "smoke"})] == [run.id]
    again = Run(exp, run.id)
    assert again.get_status() == "Completed" and again.get_tags()["kind"] == "smoke"
    assert Run.get(shared_ws, run.id).experiment.name == "listing"
    from scriptrun.errors import RunError

    with pytest.raises(RunError, match="no run"):
        Run(exp, "does-not-exist")


def test_interactive_run_with_children(shared_ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "model.bin").write_text("m")
    exp = Experiment(shared_ws, "interactive")
    with exp.start_logging() as run:
        run.log("score", 3)
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {"score": 3}
    assert "outputs/model.bin" in run.get_file_names()
    failing = exp.start_logging(outputs=False)
    failing.fail("diverged")
    details = failing.get_details()
    assert details["status"] == "Failed" and details["error"]["message"] == "diverged"


def test_status_goes_through_every_phase_in_order(shared_ws, project):
    folder = project(train="print('ok')")
    details = submit(shared_ws, folder).wait_for_completion()
    phases = details["phaseTimesUtc"]
    assert list(phases) == ["Queued", "Preparing", "Running", "Finalizing", "Completed"]
    assert list(phases.values()) == sorted(phases.values())


def test_log_image_uploads_the_file(shared_ws, project, tmp_path):
    png = tmp_path / "curve.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    folder = project(train=f"""
        from scriptrun import Run
        Run.get_context().log_image("curve", path={str(png)!r})
    """)
    run = submit(shared_ws, folder)
    run.wait_for_completion()
    image = run.get_metrics()["curve"]
    assert image.startswith("images/") and image in run.get_file_names()


def test_agent_stops_when_idle(tmp_path, project):
    from conftest import make_workspace, stop_agent

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


def test_tracking_uri_can_be_an_mlflow_server(tmp_path, project):
    """`scriptrun tracking serve` serves a workspace's store; another workspace logs to it over HTTP."""
    import socket

    from conftest import make_workspace, stop_agent

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
    from scriptrun.errors import RunError

    folder = project(train="print('ok')")
    run = submit(shared_ws, folder)
    run.wait_for_completion()
    assert shared_ws.run_dir(run.id).stat().st_mode & 0o777 == 0o700  # it holds the submitter's environment
    with pytest.raises(RunError, match="invalid run id"):
        Experiment(shared_ws, "tests").submit(ScriptRunConfig(str(folder), "train.py"), run_id="../escape")


def test_child_runs_know_their_parent(shared_ws, project):
    exp = Experiment(shared_ws, "family")
    folder = project(train="""
        from scriptrun import Run
        Run.get_context().log("child_metric", 7)
    """)
    with exp.start_logging(outputs=False) as parent:
        script_child = parent.submit_child(ScriptRunConfig(str(folder), "train.py"), tags={"kind": "script"})
        script_child.wait_for_completion()
        with parent.child_run("fold1") as fold:
            fold.log("fold_metric", 1)
    assert fold.id == f"{parent.id}_fold1"
    assert {c.id for c in parent.get_children()} == {script_child.id, fold.id}
    assert Run(exp, script_child.id).parent.id == parent.id
    assert parent.get_metrics(recursive=True) == {parent.id: {}, script_child.id: {"child_metric": 7},
                                                  fold.id: {"fold_metric": 1}}
    from mlflow.tracking import MlflowClient

    tags = MlflowClient(shared_ws.tracking_uri).get_run(script_child.get_details()["mlflowRunId"]).data.tags
    assert tags["mlflow.parentRunId"] == parent.get_details()["mlflowRunId"]  # nested in the MLflow UI
