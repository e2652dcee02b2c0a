"""The ``scriptrun`` command's conventions, run for real in subprocesses against one workspace:
``-o table|json|yaml`` on every list/show command, exit codes of ``run logs -f``, ``--rank``,
validated options, where ``--set`` problems are reported, unwrapped stderr, why a run waits,
cancel's two states, what Ctrl-C says, children under their parent, and the PyTorch default
backend on a machine without GPUs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from conftest import cli, make_workspace, ok, stop_agent, wait_for

pytestmark = pytest.mark.slow

STATUSES = ["NotStarted", "Queued", "Preparing", "Running", "Completed", "Failed", "Canceled"]


@pytest.fixture(scope="module")
def proj(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("conventions")
    ws = make_workspace(root, max_concurrent_runs=1)
    src = root / "src"
    src.mkdir()
    (src / "ok.py").write_text("print('all good')\n")
    (src / "fail.py").write_text("import sys\nprint('about to fail')\nsys.exit(3)\n")
    (src / "sleep.py").write_text("import sys, time\nprint('sleeping', flush=True)\ntime.sleep(float(sys.argv[1]))\n")
    (src / "ranks.py").write_text("import os\nprint('hello from rank', os.environ['RANK'])\n")
    (root / "job.yml").write_text("source_directory: src\nscript: ok.py\n")
    (root / "ranks.yml").write_text(textwrap.dedent("""
        source_directory: src
        script: ranks.py
        distributed_job_config: {type: pytorch, process_count: 2}
    """))
    ok(cli("run", "submit-script", "-c", "job.yml", "-e", "conv", cwd=root))
    yield root
    stop_agent(ws)


def _run_ids(proj: Path, *args: str) -> list[str]:
    return [row["runId"] for row in json.loads(ok(cli("run", "list", "-o", "json", "--last", "100", *args,
                                                      cwd=proj)).stdout)]


def test_every_list_and_show_command_takes_output_json_and_yaml(proj: Path):
    run_id = _run_ids(proj)[0]
    commands = [("run", "list"), ("run", "show", run_id), ("workspace", "show"), ("agent", "status"),
                ("env", "list"), ("env", "show", "scriptrun-minimal"), ("datastore", "list"), ("dataset", "list"),
                ("compute", "list"), ("pipeline", "list")]
    for command in commands:
        as_json = json.loads(ok(cli(*command, "-o", "json", cwd=proj)).stdout)
        as_yaml = yaml.safe_load(ok(cli(*command, "--output", "yaml", cwd=proj)).stdout)
        for data in (as_json, as_yaml):
            data.pop("uptime_seconds", None) if isinstance(data, dict) else None
        assert as_json == as_yaml, command
    shown = json.loads(ok(cli("run", "show", run_id, "-o", "json", cwd=proj)).stdout)
    assert shown["runId"] == run_id and shown["status"] == "Completed"
    table = ok(cli("run", "show", run_id, cwd=proj)).stdout
    assert run_id in table and "Completed" in table and "Duration" in table
    bad = cli("run", "list", "-o", "xml", cwd=proj)
    assert bad.returncode == 2 and "'xml' is not one of 'table', 'json', 'yaml'" in bad.stderr


def test_enum_options_list_the_valid_values(proj: Path):
    bad = cli("run", "list", "--status", "Bogus", cwd=proj)
    assert bad.returncode == 2, bad.stdout
    assert "'Bogus' is not one of" in bad.stderr and all(s in bad.stderr for s in STATUSES), bad.stderr
    assert len(_run_ids(proj, "--status", "completed")) >= 1  # any case


def test_logs_follow_exits_with_the_runs_outcome(proj: Path):
    failed = cli("run", "submit-script", "--source-directory", "src", "-e", "conv", "fail.py", cwd=proj)
    assert failed.returncode == 1 and "about to fail" in failed.stdout
    run_id = _run_ids(proj, "--status", "Failed")[0]
    followed = cli("run", "logs", "-f", run_id, cwd=proj)
    assert followed.returncode == 1 and "about to fail" in followed.stdout, followed.stderr
    good = _run_ids(proj, "--status", "Completed")[-1]
    assert ok(cli("run", "logs", "--follow", good, cwd=proj)).returncode == 0


def test_pytorch_without_backend_runs_with_gloo_here_and_logs_by_rank(proj: Path):
    validated = ok(cli("validate", "ranks.yml", cwd=proj))
    assert "note: no PyTorch communication backend given" in validated.stderr, validated.stderr
    assert "`distributed_job_config.communication_backend: nccl`" in validated.stderr  # YAML syntax, not Python
    started = ok(cli("run", "submit-script", "-c", "ranks.yml", "-e", "conv", "--async", cwd=proj))
    run_id = started.stdout.split()[-1]
    assert ok(cli("run", "logs", "-f", run_id, "--rank", "1", cwd=proj)).stdout.strip() == "hello from rank 1"
    assert ok(cli("run", "logs", run_id, "--rank", "0", cwd=proj)).stdout.strip() == "hello from rank 0"
    details = json.loads(ok(cli("run", "show", run_id, "-o", "json", cwd=proj)).stdout)
    assert details["runDefinition"]["distributed_job_config"]["communication_backend"] == "gloo"
    missing = cli("run", "logs", run_id, "--rank", "7", cwd=proj)
    assert missing.returncode == 2 and "no log of rank 7" in missing.stderr


def test_set_problems_are_reported_at_the_set_argument(proj: Path):
    bad = cli("validate", "job.yml", "--set", "node_count=two", cwd=proj)
    assert bad.returncode == 2
    assert "--set node_count=two: node_count:" in bad.stderr, bad.stderr
    assert "job.yml:" not in bad.stderr, bad.stderr


def test_unknown_key_does_not_hide_other_problems_and_duplicates_are_errors(proj: Path):
    (proj / "bad.yml").write_text("source_directory: src\nscript: ok_typo.py\nnode_cont: 2\n")
    bad = cli("validate", "bad.yml", cwd=proj)
    assert bad.returncode == 2
    assert "bad.yml:3: node_cont: unknown key" in bad.stderr, bad.stderr
    assert "bad.yml:2: script: 'ok_typo.py' not found" in bad.stderr, bad.stderr
    (proj / "dup.yml").write_text("source_directory: src\nscript: ok.py\nnode_count: 1\nscript: fail.py\n")
    dup = cli("validate", "dup.yml", cwd=proj)
    assert dup.returncode == 2 and "dup.yml:4: script: key 'script' given twice" in dup.stderr, dup.stderr


def test_stderr_is_not_wrapped_when_not_a_terminal(proj: Path):
    long_name = "a_rather_long_file_name_for_a_job_that_makes_the_error_line_much_wider_than_80.yml"
    (proj / long_name).write_text("source_directory: src\nscript: ok.py\nnode_count: two\n")
    bad = cli("validate", long_name, cwd=proj)
    line = next(line for line in bad.stderr.splitlines() if long_name in line)
    assert "node_count" in line and len(line) > 120, bad.stderr
    usage = cli("run", "list", "--status", "Bogus", cwd=proj)
    assert any("Completed" in line and "NotStarted" in line for line in usage.stderr.splitlines()), usage.stderr


def test_a_waiting_run_says_why_and_cancel_reports_both_states(proj: Path):
    blocker = ok(cli("run", "submit-script", "--source-directory", "src", "-e", "conv", "--async",
                     "sleep.py", "30", cwd=proj)).stdout.split()[-1]
    waiting = subprocess.Popen([sys.executable, "-m", "scriptrun", "run", "submit-script", "--source-directory",
                                "src", "-e", "conv", "ok.py"], cwd=proj, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        lines = [""]
        for line in waiting.stderr:  # until it says why it waits (or the command ends)
            lines.append(line)
            if "Queued:" in line:
                break
        assert "Queued: waiting for a free slot (1 running, max_concurrent_runs=1)" in lines[-1], lines
        canceled = ok(cli("run", "cancel", blocker, cwd=proj))
        assert canceled.stdout.splitlines()[0] == f"{blocker}: CancelRequested", canceled.stdout
        assert canceled.stdout.splitlines()[-1] == f"{blocker}: Canceled", canceled.stdout
        out, _ = waiting.communicate(timeout=120)
        assert waiting.returncode == 0 and "all good" in out
    finally:
        if waiting.poll() is None:
            waiting.kill()


def test_ctrl_c_while_streaming_says_how_to_follow_or_cancel(proj: Path):
    proc = subprocess.Popen([sys.executable, "-m", "scriptrun", "run", "submit-script", "--source-directory", "src",
                             "-e", "conv", "sleep.py", "60"], cwd=proj, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "sleeping" in (proc.stdout.readline() or ""), timeout=60)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_id = _run_ids(proj, "--status", "Running")[0]
    assert proc.returncode == 130
    assert f"scriptrun run logs -f {run_id}" in err and f"scriptrun run cancel {run_id}" in err, err
    ok(cli("run", "cancel", run_id, cwd=proj))


def test_children_are_listed_under_their_parent_and_shown_as_a_tree(proj: Path):
    from scriptrun import Experiment, Workspace

    parent = Experiment(Workspace.get(proj), "family").start_logging()
    children = [parent.child_run(f"c{i}") for i in range(2)]
    for child in children:
        child.complete()
    parent.complete()
    time.sleep(0.01)
    listed = ok(cli("run", "list", "-e", "family", cwd=proj)).stdout.splitlines()
    rows = [line for line in listed if parent.id in line]
    assert parent.id in rows[0] and all("└" in row for row in rows[1:]) and len(rows) == 3, listed
    shown = ok(cli("run", "show", parent.id, cwd=proj)).stdout
    assert all(c.id[len(parent.id) + 1:] in shown for c in children) and shown.count("Completed") >= 3, shown
    tree = json.loads(ok(cli("run", "show", parent.id, "-o", "json", cwd=proj)).stdout)
    assert sorted(c["runId"] for c in tree["children"]) == sorted(c.id for c in children)


def test_shell_completion(proj: Path):
    scriptrun = Path(sys.executable).parent / "scriptrun"
    script = subprocess.run([scriptrun, "--show-completion", "bash"], capture_output=True, text=True, cwd=proj)
    assert script.returncode == 0 and "_scriptrun_completion" in script.stdout, script.stderr
    env = {**os.environ, "COMP_WORDS": "scriptrun run li", "COMP_CWORD": "2", "_SCRIPTRUN_COMPLETE": "complete_bash"}
    completed = subprocess.run([scriptrun], capture_output=True, text=True, cwd=proj, env=env)
    assert completed.stdout.split() == ["list"], completed.stdout


def test_hints_use_the_syntax_of_the_file_and_survive_rich(proj: Path):
    (proj / "nccl.yml").write_text("source_directory: src\nscript: ranks.py\n"
                                   "distributed_job_config: {type: pytorch, communication_backend: nccl}\n")
    nccl = cli("validate", "nccl.yml", cwd=proj)
    assert nccl.returncode == 2 and "hint: use `distributed_job_config.communication_backend: Gloo`" in nccl.stderr
    assert "PyTorchConfiguration(" not in nccl.stderr, nccl.stderr
    (proj / "noentry.yml").write_text("source_directory: src\n")
    noentry = cli("validate", "noentry.yml", cwd=proj)
    assert "hint: set `script: train.py` or `command: [python, train.py]`" in noentry.stderr, noentry.stderr
