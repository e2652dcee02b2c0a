"""``scriptrun env list|show|register|build``: environments and the built-environment cache."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from scriptrun.cli.common import Output, OutputOpt, WorkspaceOpt, emit, make_table, out
from scriptrun.cli.common import workspace as _workspace

env_app = typer.Typer(no_args_is_help=True, help="List, show, register and build environments.")


def _packages(env) -> str:
    deps = env.python.conda_dependencies
    if env.python.user_managed_dependencies:
        return "(user-managed)"
    if deps is None or not (deps.pip_packages or deps.conda_packages):
        return "(current interpreter)"
    return ", ".join(deps.conda_packages + deps.pip_packages)


@env_app.command("list")
def list_envs(output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Every environment (curated and registered) with its latest version."""
    from scriptrun.environment import Environment

    rows = [{"name": name, "version": env.version, "packages": _packages(env)}
            for name, env in sorted(Environment.list(_workspace(workspace, create=True)).items())]

    def table() -> None:
        t = make_table("Name", "Version", "Packages")
        for row in rows:
            t.add_row(row["name"], str(row["version"]), row["packages"])
        t.print()

    emit(rows, output, table)


@env_app.command("show")
def show_env(name: str, version: Optional[str] = typer.Option(None, "--version", "-v"),
             output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """An environment's definition (YAML unless -o json)."""
    from scriptrun.environment import Environment

    env = Environment.get(_workspace(workspace, create=True), name, version)
    data = {**env._to_spec().model_dump(mode="json", exclude_defaults=True), "version": env.version}
    emit(data, Output.yaml if output is Output.table else output, lambda: None)


@env_app.command("register")
def register_env(file: Path = typer.Argument(..., help="An environment YAML (scriptrun form), a conda "
                                                       "environment file, or a pip requirements.txt."),
                 name: Optional[str] = typer.Option(None, "--name", "-n", help="Name (default: the file's "
                                                                               "`name:` or its stem)."),
                 workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Register an environment from a file; an identical definition keeps its version."""
    from scriptrun.environment.environment import environment_from_file

    env = environment_from_file(file, name).register(_workspace(workspace, create=True))
    out.print(f"registered {env.name} version {env.version}")


@env_app.command("build")
def build_env(name: str, version: Optional[str] = typer.Option(None, "--version", "-v"),
              workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Build an environment into the cache now (or report the cached one)."""
    from scriptrun.environment import Environment
    from scriptrun.environment.builder import ensure_environment
    from scriptrun.spec.checks import needs_build

    ws = _workspace(workspace, create=True)
    spec = Environment.get(ws, name, version)._to_spec()
    if not needs_build(spec):
        out.print(f"{name}: nothing to build (it runs the submitting interpreter)")
        return
    log = ws.dir / "envs" / "logs" / f"{name}.txt"
    built = ensure_environment(ws, spec, log_file=log, client_python=sys.executable)
    state = "cached" if built.cached else f"built in {built.seconds:.1f} s (log: {log})"
    out.print(f"{name}: {built.hash} {state}\n  python: {built.python}")
