"""``scriptrun``: the command line. Each command parses flags, calls one public function
and renders the result; user errors print a headline, the location and the fix, without a
traceback (internal errors keep theirs)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from scriptrun import __version__
from scriptrun.cli.compute_commands import compute_app, tracking_app
from scriptrun.cli.data_commands import dataset_app, datastore_app
from scriptrun.cli.env_commands import env_app
from scriptrun.cli.migrate_command import migrate
from scriptrun.cli.pipeline_commands import pipeline_app, submit_pipeline, validate_pipeline_file, yaml_kind
from scriptrun.cli.sweep_commands import submit_hyperdrive, sweep_app, validate_hyperdrive_file
from scriptrun.errors import ConfigError, ScriptrunError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Configure a training job once; run it locally or on a cluster, tracked in MLflow.")
run_app = typer.Typer(no_args_is_help=True, help="Submit, list, inspect and cancel runs.")
workspace_app = typer.Typer(no_args_is_help=True, help="Create and inspect the workspace.")
agent_app = typer.Typer(no_args_is_help=True, help="The per-workspace agent that executes local runs.")
app.add_typer(run_app, name="run")
app.add_typer(workspace_app, name="workspace")
app.add_typer(agent_app, name="agent")
app.add_typer(compute_app, name="compute")
app.add_typer(tracking_app, name="tracking")
app.add_typer(env_app, name="env")
app.add_typer(datastore_app, name="datastore")
app.add_typer(dataset_app, name="dataset")
app.command("migrate")(migrate)
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(sweep_app, name="sweep")
run_app.command("submit-pipeline")(submit_pipeline)
run_app.command("submit-hyperdrive")(submit_hyperdrive)

out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)

WorkspaceOpt = typer.Option(None, "--workspace", "-w", help="Workspace folder (default: found from the "
                                                                  "current folder, or SCRIPTRUN_WORKSPACE).")


def _workspace(path: Optional[Path], *, create: bool = False):
    from scriptrun.workspace import Workspace

    if path is not None:
        return Workspace.create(path) if create else Workspace.get(path)
    return Workspace.resolve() if create else Workspace.from_config()


def _version(value: bool) -> None:
    if value:
        out.print(f"scriptrun {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Configure a training job once; run it locally or on a cluster, tracked in MLflow."""


# -- run ---------------------------------------------------------------------------------------


@run_app.command("submit-script", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def submit_script(
    script_and_arguments: Optional[list[str]] = typer.Argument(
        None, help="The script, then its arguments (overrides the job file's script and arguments)."),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="Job YAML file, or a v1 .runconfig "
                                                                      "file or name (looked up in .azureml/)."),
    experiment: Optional[str] = typer.Option(None, "--experiment-name", "-e",
                                             help="Experiment (default: the source folder's name)."),
    target: Optional[str] = typer.Option(None, "--target", "-t", "--ct", help="Compute target (default: local)."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="Override a job key: --set node_count=2, "
                                                  "--set environment_variables.SEED=1 (repeatable)."),
    source_directory: Optional[str] = typer.Option(None, "--source-directory",
                                                   help="Folder to snapshot and run in (default: the job "
                                                        "file's folder, else the current folder)."),
    no_wait: bool = typer.Option(False, "--async", help="Return once submitted; don't stream the log."),
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """Submit a script run, stream its log, and exit non-zero if it fails."""
    from scriptrun.config.command_line import default_experiment_name, script_run_config_from_args
    from scriptrun.runs.experiment import Experiment

    src = script_run_config_from_args(config, script_and_arguments or [], source_directory=source_directory,
                                      target=target, overrides=overrides or [])
    ws = _workspace(workspace, create=True)
    run = Experiment(ws, experiment or default_experiment_name(src)).submit(src)
    err.print(f"Submitted run [bold]{run.id}[/] to experiment [bold]{run.experiment.name}[/] "
              f"(workspace {ws.root})")
    if no_wait:
        out.print(run.id)
        return
    details = run.wait_for_completion(show_output=True, raise_on_error=False)
    if details["status"] != "Completed":
        raise typer.Exit(1)


@run_app.command("list")
def list_runs(
    experiment: Optional[str] = typer.Option(None, "--experiment-name", "-e", help="Only this experiment."),
    status: Optional[str] = typer.Option(None, "--status", help="Only runs with this status."),
    last: int = typer.Option(10, "--last", help="How many runs, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """List runs, newest first."""
    from scriptrun.runs.run import list_runs

    rows = list_runs(_workspace(workspace), experiment=experiment, status=status, limit=last)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("Run", "Experiment", "Status", "Started (UTC)", "Duration", "Target")
    for column in table.columns:
        column.no_wrap = True
    for row in rows:
        table.add_row(row["runId"], row["experiment"], _status_text(row["status"]),
                      (row.get("startTimeUtc") or "")[5:19].replace("T", " "), _duration(row), row["target"])
    out.print(table)


@run_app.command("show")
def show_run(run_id: str, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Show a run's details (status, times, error, definition, log files) as JSON."""
    from scriptrun.runs.run import Run

    out.print_json(json.dumps(Run.get(_workspace(workspace), run_id).get_details()))


@run_app.command("logs")
def run_logs(run_id: str, follow: bool = typer.Option(False, "--follow", "-f", help="Stream until the run ends."),
             workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Print a run's log (rank 0 / main process)."""
    from scriptrun.runs.run import Run

    run = Run.get(_workspace(workspace), run_id)
    if follow:
        run.wait_for_completion(show_output=True, raise_on_error=False)
        return
    files = run.get_details()["logFiles"]
    if not files:
        err.print(f"run {run_id} has no log yet (status {run.status})")
        return
    for name, path in files.items():
        if len(files) > 1:
            out.print(f"[bold]==> {name} <==[/]")
        sys.stdout.write(Path(path).read_text(errors="replace"))
    sys.stdout.flush()


@run_app.command("cancel")
def cancel_run(run_id: str, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Cancel a run: its whole process tree is stopped."""
    from scriptrun.runs.run import Run

    run = Run.get(_workspace(workspace), run_id)
    run.cancel()
    out.print(f"{run_id}: {run.get_status()}")


@run_app.command("download")
def download_run(run_id: str,
                 output_dir: Path = typer.Option(Path("."), "--output-dir", "-d", help="Where to write the files."),
                 prefix: Optional[str] = typer.Option(None, "--prefix", help="Only files under this path, "
                                                                            "e.g. outputs/."),
                 workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Download a run's files (outputs, logs, …)."""
    from scriptrun.runs.run import Run

    files = Run.get(_workspace(workspace), run_id).download_files(prefix=prefix, output_directory=str(output_dir))
    for path in files:
        out.print(path)
    err.print(f"{len(files)} file(s) downloaded to {output_dir}")


def _follow_parent(run: Any, what: str, no_wait: bool, stream: Any) -> None:
    """The end of every submit command of a parent run (pipeline, sweep): print its id at once
    with ``--async``; else stream it with ``stream(run) -> final status``, print how it ended
    and its error, and exit 1 unless it completed."""
    if no_wait:
        out.print(run.id)
        return
    status = stream(run)
    out.print(f"{what} {run.id}: {_status_text(status)}")
    out.print(run.id)
    if status != "Completed":
        error = run.get_details().get("error") or {}
        if error.get("message"):
            err.print(f"[bold red]error:[/] {error['message']}")
        raise typer.Exit(1)


def _status_text(status: str) -> str:
    color = {"Completed": "green", "Failed": "red", "Canceled": "yellow"}.get(status, "cyan")
    return f"[{color}]{status}[/]"


def _duration(row: dict[str, Any]) -> str:
    from datetime import datetime, timezone

    start, end = row.get("startTimeUtc"), row.get("endTimeUtc")
    if not start:
        return ""
    parse = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    seconds = ((parse(end) if end else now) - parse(start)).total_seconds()
    return f"{seconds:.1f}s"


# -- validate / schema ---------------------------------------------------------------------------


@app.command("validate")
def validate(file: str = typer.Argument(..., help="Job, pipeline or HyperDrive YAML file (or v1 .runconfig)."),
             overrides: Optional[list[str]] = typer.Option(None, "--set", help="Override a job key (repeatable)."),
             workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Run the full submit-time check on a job, pipeline or HyperDrive file without running it."""
    kind = yaml_kind(file)
    if kind == "pipeline":
        return validate_pipeline_file(file, workspace)
    if kind == "hyperdrive":
        return validate_hyperdrive_file(file)
    from scriptrun.config import prepare_job
    from scriptrun.config.command_line import script_run_config_from_args
    from scriptrun.workspace import Workspace

    src = script_run_config_from_args(file, overrides=overrides or [])
    ws = Workspace.get(workspace) if workspace else (Workspace.find() or Workspace(Path.cwd()))
    spec = prepare_job(src, ws)
    target = spec.script or spec.command
    out.print(f"[green]ok[/]: {file} is a valid job ({target!r} on {spec.compute_target})")


@app.command("schema")
def schema(pipeline: bool = typer.Option(False, "--pipeline", help="The pipeline YAML's schema instead.")) -> None:
    """Print the JSON Schema of the job YAML format (generated from the spec models)."""
    if pipeline:
        from scriptrun.pipeline.pipeline_yaml import pipeline_json_schema

        sys.stdout.write(json.dumps(pipeline_json_schema(), indent=2) + "\n")
        return
    from scriptrun.spec import JobSpec

    sys.stdout.write(json.dumps(JobSpec.model_json_schema(), indent=2) + "\n")


# -- workspace / agent / ui ------------------------------------------------------------------------


@workspace_app.command("show")
def workspace_show(workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Show the workspace's folder, tracking store and settings."""
    out.print_json(json.dumps(_workspace(workspace).describe()))


@workspace_app.command("create")
def workspace_create(path: Path = typer.Argument(Path("."), help="Project folder to hold .scriptrun/."),
                     tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri",
                                                                help="Any MLflow tracking URI, e.g. "
                                                                     "http://127.0.0.1:5000.")) -> None:
    """Create (or update) a workspace."""
    from scriptrun.workspace import Workspace

    ws = Workspace.create(path, tracking_uri=tracking_uri)
    out.print(f"workspace at {ws.dir} (tracking: {ws.tracking_uri})")


@agent_app.command("status")
def agent_status(workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Is the agent running, and what is it doing?"""
    from scriptrun.runs.run import agent_info

    ws = _workspace(workspace)
    info = agent_info(ws)
    if info is None:
        out.print(f"agent: not running (workspace {ws.root}); it starts on the next submission")
        return
    out.print_json(json.dumps(info))


@agent_app.command("stop")
def agent_stop(workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Stop the agent. Running runs keep running; the next agent adopts them."""
    from scriptrun.runs.run import agent_client

    info = agent_client(_workspace(workspace)).shutdown()
    if info is None:
        out.print("agent: not running")
        return
    running = info["active_runs"]
    out.print("agent: stopped" + (f" ({len(running)} run(s) keep running)" if running else ""))


@app.command("ui")
def ui(port: int = typer.Option(5000, "--port", help="Port of the MLflow UI."),
       host: str = typer.Option("127.0.0.1", "--host"), workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Open the MLflow UI on the workspace's tracking store."""
    ws = _workspace(workspace)
    argv = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", ws.tracking_uri,
            "--default-artifact-root", str(ws.artifact_root), "--host", host, "--port", str(port),
            "--workers", "1"]
    err.print(f"MLflow UI for {ws.root} on http://{host}:{port} (Ctrl-C to stop)")
    os.execv(sys.executable, argv)


# -- entry point -----------------------------------------------------------------------------------


def render_error(exc: ScriptrunError) -> None:
    err.print(f"[bold red]error:[/] {exc.headline}")
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            err.print(f"  [bold]{problem.location()}[/]: {problem.message}")
            if problem.hint:
                err.print(f"      [dim]hint:[/] {problem.hint}")
        err.print(f"  {exc.see_also}", markup=False)
    else:
        rest = str(exc).split("\n", 1)[1:] if "\n" in str(exc) else []
        for line in rest:
            err.print(f"  {line}")


def main() -> None:
    try:
        app()
    except ScriptrunError as exc:
        if not exc.is_user_error:
            raise
        render_error(exc)
        sys.exit(2 if isinstance(exc, ConfigError) else 1)
    except KeyboardInterrupt:
        sys.exit(130)
