"""Secrets (issue 12 #7): a job's ``secret_environment_variables`` reach its processes and
``run.get_secret`` but never the run folder, the MLflow store or ``get_details()``."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import uuid
from pathlib import Path

import pytest

from conftest import make_workspace, pid_alive, stop_agent, wait_for
from scriptrun import Experiment, ScriptRunConfig
from scriptrun.agent.client import send_request
from scriptrun.errors import ConfigError, SubmitError, WorkspaceError
from scriptrun.workspace import Workspace

pytestmark = pytest.mark.faults

SEE = """
    import hashlib, json, os
    from scriptrun import Run
    run = Run.get_context()
    def h(value):
        return hashlib.sha256(value.encode()).hexdigest()
    seen = {"env": {n: h(os.environ[n]) for n in ("ENV_TOKEN", "FILE_TOKEN")},
            "get_secret": h(run.get_secret("ENV_TOKEN")),
            "get_secrets": {k: h(v) for k, v in run.get_secrets(["ENV_TOKEN", "FILE_TOKEN"]).items()},
            "vault_only": h(run.get_secret("VAULT_ONLY"))}
    json.dump(seen, open("outputs/seen.json", "w"))
    run.log("ok", 1)
"""


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _files_containing(folder: Path, values: list[bytes], skip: set[Path]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and path not in skip:
            data = path.read_bytes()
            hits += [f"{path} holds secret #{i}" for i, v in enumerate(values) if v in data]
    return hits


@pytest.mark.slow
def test_secrets_reach_the_script_and_are_stored_nowhere(own_ws: Workspace, project, tmp_path, monkeypatch):
    env_value, file_value, vault_value = (f"sr-secret-{uuid.uuid4().hex}" for _ in range(3))
    own_ws.get_default_keyvault().set_secrets({"FILE_TOKEN": file_value, "VAULT_ONLY": vault_value})
    vault = own_ws.dir / "secrets.env"
    assert vault.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("ENV_TOKEN", env_value)  # in the submitter's environment, which runs inherit
    folder = project(train=SEE)
    src = ScriptRunConfig(str(folder), "train.py", secret_environment_variables=["ENV_TOKEN", "FILE_TOKEN"])
    run = Experiment(own_ws, "secrets").submit(src)
    details = run.wait_for_completion()
    assert details["status"] == "Completed"

    seen = json.loads(Path(run.download_file("outputs/seen.json", tmp_path / "seen.json")).read_text())
    assert seen["env"] == {"ENV_TOKEN": _sha(env_value), "FILE_TOKEN": _sha(file_value)}
    assert seen["get_secret"] == _sha(env_value) and seen["vault_only"] == _sha(vault_value)
    assert seen["get_secrets"] == seen["env"]

    assert details["secretEnvironmentVariables"] == {"ENV_TOKEN": "***", "FILE_TOKEN": "***"}
    assert details["runDefinition"]["secret_environment_variables"] == ["ENV_TOKEN", "FILE_TOKEN"]
    values = [v.encode() for v in (env_value, file_value, vault_value)]
    assert not any(v.decode() in json.dumps(details, default=str) for v in values)
    assert run.get_metrics()["ok"] == 1
    # the whole workspace folder: run folder (status, launch, logs), mlflow.db, artifacts, agent log
    stop_agent(own_ws)  # flushes everything the agent holds
    assert (own_ws.dir / "mlflow.db").exists() and own_ws.run_dir(run.id).is_dir()
    assert _files_containing(own_ws.dir, values, skip={vault}) == []
    assert _files_containing(folder, values, skip=set()) == []


def test_a_missing_secret_is_a_submit_error_naming_where_to_put_it(tmp_path, project, monkeypatch):
    ws = Workspace.create(tmp_path / "ws")
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    src = ScriptRunConfig(str(project(train="print(1)")), "train.py", secret_environment_variables=["NOT_SET_TOKEN"])
    with pytest.raises(ConfigError) as info:  # a validation problem of the field, before anything runs
        Experiment(ws, "secrets").submit(src)
    message = str(info.value)
    assert "secret_environment_variables" in message and "NOT_SET_TOKEN" in message
    assert "export NOT_SET_TOKEN" in message and "secrets.env" in message
    assert not ws.runs_dir.exists() or not any(ws.runs_dir.iterdir())  # no run was created
    with pytest.raises(SubmitError, match="NOT_SET_TOKEN"):  # the submission path checks again
        from scriptrun.runs.submit import submit_job

        submit_job(src.to_job_spec(), ws, "secrets")


def test_a_secrets_file_others_can_read_is_refused(tmp_path, project):
    ws = Workspace.create(tmp_path / "ws")
    vault = ws.get_default_keyvault()
    vault.set_secret("FILE_TOKEN", "value")
    os.chmod(vault.path, 0o644)
    with pytest.raises(WorkspaceError, match="chmod 600"):
        vault.get_secret("FILE_TOKEN")
    src = ScriptRunConfig(str(project(train="print(1)")), "train.py", secret_environment_variables=["FILE_TOKEN"])
    with pytest.raises(ConfigError, match=r"readable by other users \(mode 644\).*chmod 600"):
        Experiment(ws, "secrets").submit(src)


def test_keyvault_round_trips_any_text(tmp_path):
    vault = Workspace.create(tmp_path / "ws").get_default_keyvault()
    tricky = 'line 1\nline "2" = # not a comment \\ end'
    vault.set_secrets({"A": tricky, "B": "plain"})
    assert vault.get_secrets(["A", "B"]) == {"A": tricky, "B": "plain"}
    assert vault.list_secrets() == [{"name": "A"}, {"name": "B"}]
    vault.delete_secret("A")
    assert [s["name"] for s in vault.list_secrets()] == ["B"]
    with pytest.raises(WorkspaceError, match="no secret named 'A'"):
        vault.get_secret("A")
    with pytest.raises(WorkspaceError, match="secret name"):
        vault.set_secret("not a name", "x")


def test_secret_names_in_the_spec_and_yaml(tmp_path, project):
    folder = project(train="print(1)")
    src = ScriptRunConfig(str(folder), "train.py", secret_environment_variables=["HF_TOKEN"])
    text = src.to_yaml(tmp_path / "job.yml")
    assert "secret_environment_variables:\n- HF_TOKEN" in text
    assert ScriptRunConfig.from_yaml(tmp_path / "job.yml").to_job_spec() == src.to_job_spec()
    with pytest.raises(ConfigError, match="both in environment_variables"):
        bad = ScriptRunConfig(str(folder), "train.py", secret_environment_variables=["HF_TOKEN"])
        bad.run_config.environment_variables = {"HF_TOKEN": "plain"}
        bad.to_job_spec()
    with pytest.raises(ConfigError, match="not a variable name"):
        ScriptRunConfig(str(folder), "train.py", secret_environment_variables=["hf-token"]).to_job_spec()


@pytest.mark.slow
def test_agent_restart_while_queued_keeps_file_secrets_and_fails_clearly_without_env_ones(
        tmp_path, project, monkeypatch):
    ws = make_workspace(tmp_path / "ws", max_concurrent_runs=1)
    try:
        go = tmp_path / "go"
        blocker = project(block=f"""
            import os, time
            while not os.path.exists({str(go)!r}):
                time.sleep(0.05)
        """)
        exp = Experiment(ws, "secrets")
        first = exp.submit(ScriptRunConfig(str(blocker), "block.py"))
        wait_for(lambda: first.get_status() == "Running", timeout=60)
        ws.get_default_keyvault().set_secret("FILE_TOKEN", "from-the-file")
        monkeypatch.setenv("ENV_TOKEN", "from-the-env")
        folder = project(check="import os; assert os.environ['FILE_TOKEN'] == 'from-the-file'")
        from_file = exp.submit(ScriptRunConfig(str(folder), "check.py", secret_environment_variables=["FILE_TOKEN"]))
        from_env = exp.submit(ScriptRunConfig(str(folder), "check.py",
                                              secret_environment_variables=["ENV_TOKEN", "FILE_TOKEN"]))
        assert from_env.get_status() == "Queued"
        pid = send_request(ws.agent_socket, {"op": "ping"})["pid"]
        os.kill(pid, signal.SIGKILL)  # the values sent with the queued runs were in its memory only
        wait_for(lambda: not pid_alive(pid), timeout=10)
        go.write_text("")
        assert first.wait_for_completion()["status"] == "Completed"  # a new agent takes over
        assert from_file.wait_for_completion()["status"] == "Completed"
        details = from_env.wait_for_completion(raise_on_error=False)
        assert details["status"] == "Failed"
        message = details["error"]["message"]
        assert "ENV_TOKEN" in message and "resubmit" in message and "FILE_TOKEN" not in message.split(" not found")[0]
    finally:
        stop_agent(ws)


@pytest.mark.slow
def test_sweep_trials_get_the_secrets_sent_with_their_parent(own_ws: Workspace, project, tmp_path, monkeypatch):
    from scriptrun.train.hyperdrive import GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal, choice

    value = f"sr-sweep-{uuid.uuid4().hex}"
    monkeypatch.setenv("SWEEP_TOKEN", value)
    folder = project(train=f"""
        import argparse, os
        from scriptrun import Run
        parser = argparse.ArgumentParser()
        parser.add_argument("--x", type=float)
        args = parser.parse_args()
        Run.get_context().log("acc", args.x if os.environ["SWEEP_TOKEN"] == {value!r} else -1)
    """)
    src = ScriptRunConfig(str(folder), "train.py", secret_environment_variables=["SWEEP_TOKEN"])
    hdc = HyperDriveConfig(GridParameterSampling({"--x": choice(0.1, 0.2)}), "acc", PrimaryMetricGoal.MAXIMIZE,
                           max_total_runs=2, max_concurrent_runs=2, run_config=src)
    run = Experiment(own_ws, "secrets").submit(hdc)
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Completed"
    assert sorted(c.get_metrics()["acc"] for c in run.get_children()) == [0.1, 0.2]
    stop_agent(own_ws)
    # the value is in the script's source (the snapshot) only: no run record, log or store has it
    assert _files_containing(own_ws.dir, [value.encode()], skip=set(own_ws.snapshots_dir.rglob("*"))) == []
