"""What every ``scriptrun`` command shares: the consoles, the workspace option and how it is
resolved, ``-o/--output table|json|yaml``, and the small renderers (status colours, durations).

Kept light on purpose: rich is imported when something is first printed through it on a
terminal; machine output (``-o json``/``-o yaml``) and tables or ``show`` output written to a
pipe or a CI log (plain text) never import it.
"""

from __future__ import annotations

import enum
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from scriptrun.workspace import Workspace


class _LazyConsole:
    """A rich ``Console`` made on first use. Output that is not a terminal (CI logs, pipes) is
    never hard-wrapped: messages keep their lines (``soft_wrap``), anything wider gets 160 columns."""

    def __init__(self, stderr: bool = False):
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self._stderr else sys.stdout
            tty = stream.isatty()
            self._console = Console(stderr=self._stderr, highlight=False, width=None if tty else 160,
                                    soft_wrap=not tty)
        return getattr(self._console, name)


out: Any = _LazyConsole()
err: Any = _LazyConsole(stderr=True)

WorkspaceOpt = typer.Option(None, "--workspace", "-w", help="Workspace folder (default: found from the "
                                                                  "current folder, or SCRIPTRUN_WORKSPACE).")


def workspace(path: Optional[Path], *, create: bool = False) -> Workspace:
    """The workspace a command works on: ``-w PATH``, else the one found from the current folder
    (``SCRIPTRUN_WORKSPACE``, then the folder and its parents). With ``create`` (commands that
    submit or register something) a missing one is created, in PATH or the current folder."""
    from scriptrun.workspace import Workspace

    if path is not None:
        return Workspace.create(path) if create else Workspace.get(path)
    return Workspace.resolve() if create else Workspace.from_config()


class Output(str, enum.Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


OutputOpt = typer.Option(Output.table, "--output", "-o", case_sensitive=False,
                         help="table (for people), json or yaml (for scripts).")
JsonOpt = typer.Option(False, "--json", hidden=True, help="Deprecated: use -o json.")


def output_format(output: Output, as_json: bool = False) -> Output:
    """``-o``, or json for the deprecated ``--json`` flag (with a note naming the replacement)."""
    if as_json:
        print("scriptrun: --json is deprecated; use -o json", file=sys.stderr)
        return Output.json
    return output


def emit(data: Any, output: Output, table: Callable[[], None]) -> None:
    """Print ``data`` as JSON or YAML (plain, fast, for scripts), else call ``table()``."""
    if output is Output.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif output is Output.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True))
    else:
        table()


# the markup this CLI writes; an even run of backslashes before it is escaped backslashes
_MARKUP = re.compile(r"(?<!\\)((?:\\\\)*)\[(?:/?(?:bold|dim|red|green|yellow|cyan)|/)\]")
_TAG = r"\[[a-z#/@][^[]*?]"  # what rich would read as markup
_ESCAPABLE = re.compile(rf"(\\*)({_TAG})")
_ESCAPED = re.compile(rf"(\\*)\\({_TAG})")


def escape(text: str) -> str:
    """``text`` shown as it is by rich (``[...]`` in it is not markup): rich's own
    ``rich.markup.escape``, without importing rich on the plain-text path."""
    text = _ESCAPABLE.sub(lambda m: f"{m[1]}{m[1]}\\{m[2]}", text)
    return text + "\\" if text.endswith("\\") and not text.endswith("\\\\") else text


def plain(text: str) -> str:
    """``text`` without the rich markup this CLI writes (``[bold]``, ``[green]``, ``[/]``, …)
    and with :func:`escape`'s escapes undone: what rich would show, as plain text."""
    text = _MARKUP.sub(lambda m: m[1][: len(m[1]) // 2], text)
    return _ESCAPED.sub(lambda m: m[1][: len(m[1]) // 2] + m[2], text)


def echo(text: str = "") -> None:
    """One line on stdout: rich markup rendered on a terminal; plain text otherwise, written
    directly (pipes and CI logs get no colour codes, and no rich import)."""
    if sys.stdout.isatty():
        out.print(text)
    else:
        sys.stdout.write(plain(text) + "\n")


class Table:
    """Rows under a header: a rich table on a terminal; otherwise plain columns separated by two
    spaces (like ``docker ps``), easy to read in CI logs and to cut with ``awk``."""

    def __init__(self, *columns: str):
        self.columns = columns
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        self.rows.append(cells)

    def print(self) -> None:
        if sys.stdout.isatty():
            from rich.box import SIMPLE_HEAD
            from rich.table import Table as RichTable

            table = RichTable(*self.columns, box=SIMPLE_HEAD, header_style="bold")
            table.columns[0].no_wrap = True  # names and ids whole; the other columns wrap if they must
            for row in self.rows:
                table.add_row(*row)
            out.print(table)
            return
        rows = [tuple(self.columns), *(tuple(plain(cell) for cell in row) for row in self.rows)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.columns))]
        sys.stdout.write("".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
                                 for row in rows))


def make_table(*columns: str) -> Table:
    return Table(*columns)


def choice(value: Optional[str], valid: list[str], option: str) -> Optional[str]:
    """``value`` if it is one of ``valid`` (compared case-insensitively, returned as spelled in
    ``valid``); else a usage error listing the valid values."""
    if value is None:
        return None
    for candidate in valid:
        if candidate.lower() == value.lower():
            return candidate
    raise typer.BadParameter(f"{value!r} is not one of: {', '.join(valid)}", param_hint=option)


def status_text(status: str) -> str:
    color = {"Completed": "green", "Failed": "red", "Canceled": "yellow"}.get(status, "cyan")
    return f"[{color}]{status}[/]"


def duration(details: dict[str, Any]) -> str:
    """How long a run ran (so far), from its details' start and end times."""
    from datetime import datetime, timezone

    start, end = details.get("startTimeUtc"), details.get("endTimeUtc")
    if not start:
        return ""
    parse = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    seconds = ((parse(end) if end else now) - parse(start)).total_seconds()
    return f"{seconds:.1f}s"


def short_time(iso: Optional[str]) -> str:
    return (iso or "")[5:19].replace("T", " ")


def follow_parent(run: Any, what: str, no_wait: bool, stream: Callable[[Any], str]) -> None:
    """The end of every submit command of a parent run (pipeline, sweep): print its id at once
    with ``--async``; else stream it with ``stream(run) -> final status``, print how it ended
    and its error, and exit 1 unless it completed."""
    if no_wait:
        out.print(run.id)
        return
    try:
        status = stream(run)
    except KeyboardInterrupt:
        err.print(f"\nStopped following; {what} {run.id} keeps running.\n"
                  f"  see it:  scriptrun run show {run.id}\n"
                  f"  stop it: scriptrun run cancel {run.id}", markup=False)
        raise typer.Exit(130) from None
    out.print(f"{what} {run.id}: {status_text(status)}")
    out.print(run.id)
    if status != "Completed":
        error = run.get_details().get("error") or {}
        if error.get("message"):
            err.print(f"[bold red]error:[/] {error['message']}")
        raise typer.Exit(1)
