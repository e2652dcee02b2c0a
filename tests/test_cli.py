"""The real ``scriptrun`` command in subprocesses: submission, inspection, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import stop_agent
from scriptrun.workspace import Workspace

pytestmark = pytest.mark.slow


def cli(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "scriptrun", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=240)
    if check and proc.returncode != 0:
        raise AssertionError(f"scriptrun {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def proj(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(textwrap.dedent("""
        import sys
        from scriptrun import Run
        run = Run.get_context()
        run.log("epochs", int(sys.argv[sys.argv.index("--epochs") + 1]))
        open("outputs/model.txt", "w").write("trained")
        print("args:", sys.argv[1:])
    """))
    (tmp_path / "src" / "crash.py").write_text("raise ValueError('no data found')\n")
    (tmp_path / "job.yml").write_text(textwrap.dedent("""
        source_directory: src
        script: train.py
        arguments: [--epochs, 1]
        environment_variables:
          SEED: "7"
    """))
    yield tmp_path
    if (tmp_path / ".scriptrun").is_dir():
        stop_agent(Workspace.get(tmp_path))


def test_submit_yaml_with_overrides_then_inspect(proj: Path):
    done = cli("run", "submit-script", "-c", "job.yml", "-e", "clitest", "--set", "arguments=[--epochs, 3]",
               cwd=proj, check=True)
    assert "args: ['--epochs', '3']" in done.stdout
    assert "Status: Completed" in done.stdout
    listed = json.loads(cli("run", "list", "-o", "json", cwd=proj, check=True).stdout)
    run_id = listed[0]["runId"]
    assert listed[0]["status"] == "Completed" and listed[0]["experiment"] == "clitest"
    details = json.loads(cli("run", "show", run_id, "-o", "json", cwd=proj, check=True).stdout)
    assert details["runDefinition"]["environment_variables"] == {"SEED": "7"}
    assert "args:" in cli("run", "logs", run_id, cwd=proj, check=True).stdout
    cli("run", "download", run_id, "-d", "dl", "--prefix", "outputs", cwd=proj, check=True)
    assert (proj / "dl" / "outputs" / "model.txt").read_text() == "trained"
    table = cli("run", "list", cwd=proj, check=True).stdout
    assert "clitest" in table and "Completed" in table


def test_submit_positional_script_async_and_failure_exit_code(proj: Path):
    started = cli("run", "submit-script", "--source-directory", "src", "--async", "train.py", "--epochs", "2",
                  cwd=proj, check=True)
    run_id = started.stdout.strip()
    assert run_id.startswith("src_")
    followed = cli("run", "logs", run_id, "--follow", cwd=proj, check=True)
    assert "args: ['--epochs', '2']" in followed.stdout
    failed = cli("run", "submit-script", "--source-directory", "src", "crash.py", cwd=proj)
    assert failed.returncode == 1
    assert "ValueError: no data found" in failed.stdout
    assert "Status: Failed" in failed.stdout


def test_validate_reports_every_problem_with_file_line_and_hint(proj: Path):
    (proj / "bad.yml").write_text("source_directory: src\nscript: train.py\nnode_cont: 2\nnode_count: two\n")
    proc = cli("validate", "bad.yml", cwd=proj)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "bad.yml:3: node_cont: unknown key" in proc.stderr
    assert "did you mean `node_count`?" in proc.stderr
    assert "bad.yml:4: node_count" in proc.stderr
    ok = cli("validate", "job.yml", cwd=proj, check=True)
    assert "ok" in ok.stdout
    missing = cli("validate", "job.yml", "--set", "script=tain.py", cwd=proj)
    assert missing.returncode == 2 and "did you mean `train.py`?" in missing.stderr


def test_submit_with_unknown_target_is_a_clear_error(proj: Path):
    proc = cli("run", "submit-script", "-c", "job.yml", "-t", "gpu-cluster", cwd=proj)
    assert proc.returncode == 2
    assert "compute_target: unknown compute target 'gpu-cluster'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_schema_workspace_and_agent_commands(proj: Path):
    schema = json.loads(cli("schema", cwd=proj, check=True).stdout)
    assert "script" in schema["properties"] and schema["additionalProperties"] is False
    cli("workspace", "create", ".", cwd=proj, check=True)
    shown = json.loads(cli("workspace", "show", "-o", "json", cwd=proj, check=True).stdout)
    assert shown["tracking_uri"].startswith("sqlite:///") and shown["root"] == str(proj.resolve())
    assert "not running" in cli("agent", "status", cwd=proj, check=True).stdout
    cli("run", "submit-script", "-c", "job.yml", cwd=proj, check=True)
    status = json.loads(cli("agent", "status", "-o", "json", cwd=proj, check=True).stdout)
    assert status["workspace"] == str(proj.resolve())
    assert "stopped" in cli("agent", "stop", cwd=proj, check=True).stdout
    assert "not running" in cli("agent", "status", cwd=proj, check=True).stdout


def test_legacy_runconfig_by_name(proj: Path):
    from scriptrun import RunConfiguration

    rc = RunConfiguration(script="train.py", arguments=["--epochs", "5"])
    (proj / "src" / ".azureml").mkdir()
    rc.save(path=str(proj / "src"), name="local")
    done = cli("run", "submit-script", "--source-directory", "src", "-c", "local", cwd=proj, check=True)
    assert "args: ['--epochs', '5']" in done.stdout


def test_compute_attach_list_detach(proj: Path):
    cli("workspace", "create", ".", cwd=proj, check=True)
    attached = cli("compute", "attach-ray", "ray-dev", "--address", "127.0.0.1:8265", cwd=proj, check=True)
    assert "http://127.0.0.1:8265" in attached.stdout
    listed = cli("compute", "list", cwd=proj, check=True).stdout
    assert "ray-dev" in listed and "RayCluster" in listed and "local" in listed
    bad = cli("compute", "attach-ray", "x", "--address", "ftp://nowhere", cwd=proj)
    assert bad.returncode == 2 and "not a Ray dashboard address" in bad.stderr
    cli("compute", "detach", "ray-dev", cwd=proj, check=True)
    assert "ray-dev" not in cli("compute", "list", cwd=proj, check=True).stdout
