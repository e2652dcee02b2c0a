"""``scriptrun migrate PATH... [--diff | --write | --check]``: rewrite Azure ML v1 code."""

from __future__ import annotations

from pathlib import Path

import typer

from scriptrun.cli.common import out


def migrate(paths: list[Path] = typer.Argument(..., help="Files or folders (.py and .ipynb, searched recursively)."),
            diff: bool = typer.Option(False, "--diff", help="Show the changes as a unified diff; write nothing."),
            write: bool = typer.Option(False, "--write", help="Write the changes to the files."),
            check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 when something unsupported "
                                                              "or unparseable remains.")) -> None:
    """Rewrite Azure ML v1 code for scriptrun: `azureml` → `scriptrun` in imports, and a
    `# scriptrun:` comment on each call that needs a human."""
    from scriptrun.migrate import migrate_paths

    if sum((diff, write, check)) > 1:
        raise typer.BadParameter("give one of --diff, --write, --check")
    try:
        report = migrate_paths(paths, write=write)
    except FileNotFoundError as exc:
        out.print(f"[red]error[/]: {exc}")
        raise typer.Exit(2)
    if diff:
        for result in report.files:
            if result.changed:
                out.print(result.diff(), markup=False, end="", soft_wrap=True)
    out.print(report.summary(written=write), markup=False, soft_wrap=True)
    if check and (report.count("unsupported") or report.count("error")):
        raise typer.Exit(1)
