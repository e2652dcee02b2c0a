"""Fixtures of the fault suite: hostile inputs run under a time and memory bound.

Every module here sets ``pytestmark = pytest.mark.faults`` (``pytest -m faults`` runs the suite).
The workspace fixtures (``own_ws``, ``project``, …) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_BOUNDED_RUNNER = textwrap.dedent("""
    import json, resource, sys, time
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from scriptrun.config.script_run_config import ScriptRunConfig
    from scriptrun.errors import ConfigError
    def peak_rss_mb():  # this program's own peak: ru_maxrss also counts the forking parent's
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    try:
        ScriptRunConfig.from_yaml(sys.argv[1])
        outcome, message = "ok", ""
    except ConfigError as exc:
        outcome, message = "ConfigError", str(exc)
    except BaseException as exc:
        outcome, message = type(exc).__name__, str(exc)[:500]
    print(json.dumps({"outcome": outcome, "message": message, "seconds": time.perf_counter() - start,
                      "max_rss_mb": peak_rss_mb()}))
""")


@pytest.fixture
def load_bounded() -> Callable[..., dict[str, Any]]:
    """``load_bounded(file, timeout=…, memory_mb=…)``: ``ScriptRunConfig.from_yaml(file)`` in a
    child process with an address-space limit and a deadline, so a regression fails the test
    instead of taking the machine down. Returns the outcome, message, seconds and peak RSS."""

    def run(file: Path, *, timeout: float = 20.0, memory_mb: int = 2048) -> dict[str, Any]:
        try:
            proc = subprocess.run([sys.executable, "-c", _BOUNDED_RUNNER, str(file), str(memory_mb * 2**20)],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"outcome": "timeout", "message": f"no answer within {timeout} s", "seconds": timeout,
                    "max_rss_mb": None}
        if proc.returncode != 0 or not proc.stdout.strip():
            return {"outcome": f"exit {proc.returncode}", "message": proc.stderr[-2000:], "seconds": None,
                    "max_rss_mb": None}
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return run
