"""What the benchmarks share: a throwaway workspace, and timing helpers."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from scriptrun import Workspace
from scriptrun.runs.run import agent_client


@contextmanager
def bench_workspace(scripts: dict[str, str], prefix: str = "scriptrun-bench-",
                    **settings: Any) -> Iterator[tuple[Workspace, Path]]:
    """A workspace in a temporary folder, with ``settings`` in its ``config.yaml`` and
    ``scripts`` (file name -> text) in its ``src/`` folder; its agent stops on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        folder = root / "src"
        folder.mkdir()
        for name, text in scripts.items():
            (folder / name).write_text(text)
        ws = Workspace.create(root)
        if settings:
            (ws.dir / "config.yaml").write_text(yaml.safe_dump(settings))
            ws = Workspace.get(root)
        try:
            yield ws, folder
        finally:
            agent_client(ws).shutdown()


def median_seconds(fn: Callable[[], Any], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
