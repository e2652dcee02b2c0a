"""What the CLI prints as text: rich markup on a terminal, the same words plainly on a pipe."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.markup import escape as rich_escape

from scriptrun.cli.common import escape, plain

TEXTS = ["got [] here", "tag [bold] x", "a[/]b", "list [1, 2] and [a, b]", "path C:\\tmp\\", "no brackets",
         "nested [x [y]] end", "\\[already] escaped"]


@pytest.mark.parametrize("text", TEXTS)
def test_escape_is_rich_s_and_plain_shows_what_rich_shows(text):
    assert escape(text) == rich_escape(text)
    console = Console(width=200, color_system=None, highlight=False)
    with console.capture() as captured:
        console.print(f"[bold]{escape(text)}[/]")
    assert plain(f"[bold]{escape(text)}[/]") == captured.get().rstrip("\n")


def test_plain_strips_only_this_cli_s_markup():
    assert plain("run [bold]abc[/]: [green]Completed[/] [dim](cached)[/]") == "run abc: Completed (cached)"
    assert plain("keep [] and [1, 2] and [/x]") == "keep [] and [1, 2] and [/x]"
