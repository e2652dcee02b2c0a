"""Progress of long work (uploads, downloads, snapshots, a run's finalizing) on stderr.

Short work shows nothing. Once a piece of work has taken ``SCRIPTRUN_PROGRESS_AFTER`` seconds
(default 1), a terminal gets a rich progress bar (what, how much of how much, speed, time
left) and anything else (a CI log, a pipe) one plain line every ``LINE_SECONDS`` — never
carriage-return animation in a log file. ``SCRIPTRUN_PROGRESS=0`` turns it all off; the agent
turns it off for itself (nobody watches its stderr)::

    with Progress("Uploading outputs", total=sum(sizes)) as bar:
        for f in files:
            copy(f)
            bar.advance(size_of(f))

rich is imported only when a bar is really drawn (it costs ~50 ms of start-up).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Literal

LINE_SECONDS = 10.0

_enabled = os.environ.get("SCRIPTRUN_PROGRESS", "1") != "0"


def disable() -> None:
    """No progress output from this process (the agent: its stderr is a log file)."""
    global _enabled
    _enabled = False


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KB`` (powers of 1000, as rich and most download tools show sizes)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class Progress:
    """One piece of work measured in ``unit`` (bytes or files) out of ``total`` (None: unknown)."""

    def __init__(self, label: str, total: int | None = None, unit: Literal["bytes", "files"] = "bytes",
                 enabled: bool = True) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self._enabled = enabled and _enabled
        self._started = time.monotonic()
        self._after = float(os.environ.get("SCRIPTRUN_PROGRESS_AFTER", "1"))
        self._bar: Any = None
        self._task: Any = None
        self._next_line: float | None = None  # when the next plain line is due (None: none shown yet)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(ok=exc[0] is None)

    def advance(self, amount: int = 1) -> None:
        self.update(self.done + amount)

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if not self._enabled:
            return
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=self.total)
        elif self._next_line is not None:
            if now >= self._next_line:
                self._line()
                self._next_line = now + LINE_SECONDS
        elif now - self._started >= self._after:
            self._show(now)

    def close(self, ok: bool = True) -> None:
        """End the display: the bar's last state stays on screen; a plain log gets a last line."""
        if self._bar is not None:
            if ok and self.total is not None:
                self._bar.update(self._task, completed=self.total)
            self._bar.stop()
            self._bar = None
        elif self._next_line is not None and ok:
            self.done = self.total if self.total is not None else self.done
            self._line(" done")
            self._next_line = None

    def _show(self, now: float) -> None:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as Bar

            amount = (DownloadColumn(), TransferSpeedColumn()) if self.unit == "bytes" else (MofNCompleteColumn(),)
            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), *amount, TimeRemainingColumn(),
                            console=Console(stderr=True))
            self._task = self._bar.add_task(self.label, total=self.total, completed=self.done)
            self._bar.start()
        else:
            self._line()
            self._next_line = now + LINE_SECONDS

    def _line(self, suffix: str = "") -> None:
        if self.unit == "bytes":
            amount = human_bytes(self.done) + (f" of {human_bytes(self.total)}" if self.total is not None else "")
        else:
            amount = f"{self.done}" + (f" of {self.total}" if self.total is not None else "") + " files"
        percent = f" ({100 * self.done / self.total:.0f}%)" if self.total and not suffix else ""
        print(f"{self.label}: {amount}{percent}{suffix}", file=sys.stderr, flush=True)
