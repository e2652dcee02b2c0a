"""Progress of long work on stderr: nothing for short work, plain lines in a log, a rich bar
on a terminal, and a run's finalizing upload explained while a client waits for it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import make_workspace
from scriptrun import Experiment, progress
from scriptrun.progress import Progress, human_bytes


@pytest.fixture
def shown_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTRUN_PROGRESS_AFTER", "0")
    monkeypatch.setattr(progress, "_enabled", True)


def test_long_work_in_a_log_gets_plain_lines_and_a_last_one(shown_at_once, capsys):
    with Progress("Uploading outputs", total=3_000_000) as bar:
        for _ in range(3):
            bar.advance(1_000_000)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["Uploading outputs: 1.0 MB of 3.0 MB (33%)", "Uploading outputs: 3.0 MB of 3.0 MB done"]
    with Progress("Downloading", total=4, unit="files") as bar:
        bar.advance()
    assert capsys.readouterr().err.splitlines()[0] == "Downloading: 1 of 4 files (25%)"


def test_short_or_disabled_work_shows_nothing(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_enabled", True)
    with Progress("Quick", total=10) as bar:  # well under the default second
        bar.advance(10)
    monkeypatch.setenv("SCRIPTRUN_PROGRESS_AFTER", "0")
    with Progress("Unwanted", total=10, enabled=False) as bar:
        bar.advance(10)
    progress.disable()
    with Progress("Agent", total=10) as bar:
        bar.advance(10)
    assert capsys.readouterr().err == ""


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 999, 1500, 120e6, 3.2e12)] == [
        "0 bytes", "999 bytes", "1.5 KB", "120.0 MB", "3.2 TB"]


def test_a_terminal_gets_a_rich_bar_for_a_datastore_upload(tmp_path: Path):
    ws = make_workspace(tmp_path / "ws")
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        (data / f"part{i}.bin").write_bytes(os.urandom(1_000_000))
    program = textwrap.dedent(f"""
        from scriptrun import Workspace
        Workspace.get({str(ws.root)!r}).get_default_datastore().upload({str(data)!r}, target_path="d")
    """)
    parent, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", program], stdin=child, stdout=child, stderr=child,
                            env={**os.environ, "SCRIPTRUN_PROGRESS_AFTER": "0", "COLUMNS": "120"})
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(parent)
    screen = b"".join(chunks).decode(errors="replace")
    assert "Uploading to workspaceblobstore" in screen and "3.0/3.0 MB" in screen, screen
    assert "━" in screen, screen  # the bar itself
    assert "Uploaded 3 file(s) to workspaceblobstore:d" in screen, screen


@pytest.mark.slow
def test_a_run_finalizing_its_upload_says_so_and_ends_once_uploaded(own_ws, project):
    src = project(many="""
        import os
        os.makedirs("outputs/parts", exist_ok=True)
        for i in range(5000):
            with open(f"outputs/parts/p{i}.txt", "w") as fh:
                fh.write("x" * 1000)
    """)
    done = subprocess.run([sys.executable, "-m", "scriptrun", "run", "submit-script", "--source-directory",
                           str(src), "-e", "fin", "many.py"], cwd=own_ws.root, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "SCRIPTRUN_PROGRESS_AFTER": "0"})
    assert done.returncode == 0, done.stderr
    assert "Finalizing: uploading outputs and logs to MLflow: 5.0 MB of 5.0 MB done" in done.stderr, done.stderr
    run = next(Experiment(own_ws, "fin").get_runs())
    assert run.get_status() == "Completed"
    names = run.get_file_names()  # everything is in MLflow once the submission returned
    assert sum(n.startswith("outputs/parts/") for n in names) == 5000
