"""The README runs: every fenced ```python / ```bash block is executed, twice (a re-run must
succeed too), in a scratch copy of the examples with its own workspace. A block that cannot run
(the set-up, the whole test suite) says so with a marker line right above it:
``<!-- readme-test: skip (reason) -->``. Links stay inside the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s*\((.+?)\)\s*-->")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def blocks(text: str) -> list[tuple[str, str, str | None]]:
    """(language, code, skip reason) of every fenced block, in order."""
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        skip = SKIP.fullmatch(before[-1].strip()) if before else None
        found.append((match.group(1), match.group(2), skip.group(1) if skip else None))
    return found


def runnable() -> list[tuple[str, str]]:
    return [(lang, code) for lang, code, skip in blocks(README.read_text()) if lang in ("python", "bash")
            and skip is None]


def test_every_block_runs_or_says_why_not():
    found = blocks(README.read_text())
    assert found, "the README has no code blocks"
    for lang, code, skip in found:
        assert lang in ("python", "bash", "yaml", "text"), f"a ``` block needs a language: {code[:60]!r}"
        if skip is not None:
            assert len(skip) > 10, f"say why a block is not run: {code[:60]!r}"
    assert {lang for lang, _ in runnable()} == {"python", "bash"}


def test_links_stay_inside_the_repository():
    for target in LINK.findall(README.read_text()):
        assert "://" not in target and not target.startswith("/"), f"link leaves the repository: {target}"
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"link leaves the repository: {target}"
        assert path.exists(), f"dead link in README.md: {target}"


@pytest.fixture
def scratch(tmp_path: Path):
    """A folder laid out like the repository's root (examples/, .venv) with no workspace yet."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns(".scriptrun", "__pycache__", "*.ipynb"))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRIPTRUN_", "MLFLOW_"))}
    yield tmp_path, env
    if (tmp_path / ".scriptrun").exists():
        subprocess.run([sys.executable, "-m", "scriptrun", "agent", "stop", "-w", str(tmp_path)],
                       env=env, capture_output=True, timeout=60)


@pytest.mark.slow
def test_readme_blocks_run_twice(scratch):
    folder, env = scratch
    for attempt in (1, 2):
        for lang, code in runnable():
            argv = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
            done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=240)
            assert done.returncode == 0, (f"README {lang} block failed on run {attempt}:\n{code}\n"
                                          f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}")
