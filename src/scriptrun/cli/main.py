"""``scriptrun``: the command line. Each command parses flags, calls one public function
and renders the result; user errors print a headline, the location and the fix, without a
traceback (internal errors keep theirs).

Start-up is kept short: the spec, MLflow and the submission machinery are imported inside the
commands that need them, and list/show commands render JSON/YAML without rich
(``-o json``/``-o yaml``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from scriptrun.cli.common import (
    JsonOpt,
    Output,
    OutputOpt,
    WorkspaceOpt,
    choice,
    duration,
    echo,
    emit,
    err,
    escape,
    make_table,
    out,
    output_format,
    short_time,
    status_text,
)
from scriptrun.cli.common import workspace as _workspace
from scriptrun.cli.compute_commands import compute_app, tracking_app
from scriptrun.cli.data_commands import dataset_app, datastore_app
from scriptrun.cli.env_commands import env_app
from scriptrun.cli.migrate_command import migrate
from scriptrun.cli.pipeline_commands import pipeline_app, submit_pipeline, validate_pipeline_file, yaml_kind
from scriptrun.cli.sweep_commands import submit_hyperdrive, sweep_app, validate_hyperdrive_file
from scriptrun.errors import ConfigError, ConfigNotice, ScriptrunError

app = typer.Typer(no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
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


def _version(value: bool) -> None:
    if value:
        from scriptrun.version import __version__

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
    raise typer.Exit(_follow(run))


def _follow(run: Any, rank: Optional[int] = None) -> int:
    """Stream a run's log (rank 0, or ``rank``) until it ends, saying on stderr why it waits
    while it is queued, preparing or finalizing. The exit code of its outcome: 0 only if it completed."""
    try:
        if rank is None:
            status = run.wait_for_completion(show_output=True, raise_on_error=False)["status"]
        else:
            status = _follow_rank(run, rank)
    except KeyboardInterrupt:
        err.print(f"\nStopped following; run {run.id} keeps running.\n"
                  f"  follow it again: scriptrun run logs -f {run.id}\n"
                  f"  stop it:         scriptrun run cancel {run.id}", markup=False)
        return 130
    return 0 if status == "Completed" else 1


def _follow_rank(run: Any, rank: int) -> str:
    """Print one rank's log as it grows until the run ends; return the final status."""
    from scriptrun.agent import protocol
    from scriptrun.rundir import is_terminal
    from scriptrun.runs.run import WaitReasons, agent_client

    client = agent_client(run.experiment.workspace)
    logs = Path(run.get_details()["runDir"]) / "logs"
    offset = 0
    reasons = WaitReasons(run)
    reasons.start()
    try:
        while True:
            status = client.request(protocol.Wait(run_id=run.id, timeout=0.2))
            path = _rank_log(logs, rank)
            if path is not None:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    data = fh.read()
                offset += len(data)
                sys.stdout.write(data.decode("utf-8", errors="replace"))
                sys.stdout.flush()
            if is_terminal(status):
                if path is None:
                    err.print(f"run {run.id} has no log of rank {rank}: "
                              f"{', '.join(p.name for p in sorted(logs.glob('*.txt'))) or 'no logs'}", markup=False)
                return status
    finally:
        reasons.stop()


def _rank_log(logs: Path, rank: int) -> Optional[Path]:
    """The log file of process ``rank`` (``rank_N``/``worker_N``/``node_N``, or the single
    process's ``std_log`` for rank 0)."""
    for stem in (f"rank_{rank}", f"worker_{rank}", f"node_{rank}", *(["std_log"] if rank == 0 else [])):
        if (logs / f"{stem}.txt").is_file():
            return logs / f"{stem}.txt"
    return None


@run_app.command("list")
def list_runs(
    experiment: Optional[str] = typer.Option(None, "--experiment-name", "-e", help="Only this experiment."),
    status: Optional[str] = typer.Option(None, "--status", help="Only runs with this status (Queued, Running, "
                                         "Completed, Failed, Canceled, …)."),
    last: int = typer.Option(10, "--last", help="How many runs, newest first (children count too)."),
    output: Output = OutputOpt,
    as_json: bool = JsonOpt,
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """List runs, newest first; a pipeline's steps and a sweep's trials under their parent."""
    from scriptrun.rundir import RunStatus
    from scriptrun.runs.run import list_runs

    status = choice(status, RunStatus.list(), "--status")
    rows = list_runs(_workspace(workspace), experiment=experiment, status=status, limit=last)
    output = output_format(output, as_json)
    if output is not Output.table:
        return emit(rows, output, lambda: None)
    table = make_table("Run", "Experiment", "Status", "Started (UTC)", "Duration", "Target")
    for row, depth in _tree_order(rows):
        table.add_row("  " * depth + ("└ " if depth else "") + row["runId"], row["experiment"],
                      status_text(row["status"]), short_time(row.get("startTimeUtc")), duration(row), row["target"])
    table.print()


def _tree_order(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """``rows`` (newest first) with each run's children right under it, and their depth; a child
    whose parent is not among the rows stays where it is."""
    ids = {row["runId"] for row in rows}
    children: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("parentRunId") in ids:
            children.setdefault(row["parentRunId"], []).append(row)
    ordered: list[tuple[dict[str, Any], int]] = []

    def add(row: dict[str, Any], depth: int) -> None:
        ordered.append((row, depth))
        for child in sorted(children.get(row["runId"], []), key=lambda r: r.get("createdTimeUtc") or ""):
            add(child, depth + 1)

    for row in rows:
        if row.get("parentRunId") not in ids:
            add(row, 0)
    return ordered


@run_app.command("show")
def show_run(run_id: str, output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """A run's status, times, error and log files; for a pipeline or a sweep, the tree of its
    steps or trials with their statuses, durations and whether they were reused."""
    from scriptrun.runs.run import Run, list_runs

    ws = _workspace(workspace)
    details = Run.get(ws, run_id).get_details()

    def with_children(run: dict[str, Any]) -> dict[str, Any]:
        kids = list_runs(ws, parent_run_id=run["runId"])
        return {**run, "children": [with_children(k) for k in reversed(kids)]} if kids else run

    details = with_children(details)
    emit(details, output, lambda: _show_table(details))


def _show_table(details: dict[str, Any]) -> None:
    fields = [("Run", details["runId"]), ("Experiment", details["experiment"]),
              ("Status", status_text(details["status"])), ("Type", details.get("type", "")),
              ("Target", details.get("target", "")), ("Parent", details.get("parentRunId") or ""),
              ("Created (UTC)", short_time(details.get("createdTimeUtc"))),
              ("Started (UTC)", short_time(details.get("startTimeUtc"))),
              ("Ended (UTC)", short_time(details.get("endTimeUtc"))), ("Duration", duration(details)),
              ("Reused from", details.get("reusedFrom") or ""), ("Run folder", details.get("runDir") or "")]
    error = details.get("error") or {}
    if error.get("message"):
        fields.append(("Error", f"[red]{escape(error['message'])}[/]"))
    for name, path in (details.get("logFiles") or {}).items():
        fields.append(("Log", f"{name} ({path})"))
    for name, value in fields:
        if value:
            echo(f"[bold]{name + ':':<15}[/]{value}")
    if details.get("children"):
        echo(f"[bold]{details['runId']}[/]")
        _echo_children(details, "")


def _echo_children(details: dict[str, Any], indent: str) -> None:
    """The tree of a parent's steps or trials: name, status, duration, what a reused one reused."""
    prefix = details["runId"] + "_"
    children = details.get("children", [])
    for i, child in enumerate(children):
        last = i == len(children) - 1
        name = child["runId"][len(prefix):] if child["runId"].startswith(prefix) else child["runId"]
        took = duration(child)
        reused = f" [dim]reused {child['reusedFrom']}[/]" if child.get("reusedFrom") else ""
        echo(f"{indent}{'└── ' if last else '├── '}[bold]{name}[/] {status_text(child['status'])}"
             + (f" {took}" if took else "") + reused)
        _echo_children(child, indent + ("    " if last else "│   "))


@run_app.command("logs")
def run_logs(run_id: str, follow: bool = typer.Option(False, "--follow", "-f", help="Stream until the run ends, "
                                                       "then exit with its outcome (0 only if it completed)."),
             rank: Optional[int] = typer.Option(None, "--rank", min=0, help="The log of this process rank "
                                                "(default: rank 0 / the main process)."),
             workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Print a run's log (rank 0 / main process, or --rank N)."""
    from scriptrun.runs.run import Run

    run = Run.get(_workspace(workspace), run_id)
    if follow:
        raise typer.Exit(_follow(run, rank))
    files = run.get_details()["logFiles"]
    if rank is not None:
        path = _rank_log(Path(run.get_details()["runDir"]) / "logs", rank)
        if path is None:
            raise typer.BadParameter(f"run {run_id} has no log of rank {rank} (its logs: "
                                     f"{', '.join(files) or 'none yet'})", param_hint="--rank")
        files = {path.name: str(path)}
    if not files:
        err.print(f"run {run_id} has no log yet (status {run.status})")
        return
    for name, path in files.items():
        if len(files) > 1:
            out.print(f"[bold]==> {name} <==[/]")
        sys.stdout.write(Path(path).read_text(errors="replace"))
    sys.stdout.flush()


@run_app.command("cancel")
def cancel_run(run_id: str, wait: float = typer.Option(30.0, "--wait", help="Seconds to wait for the final "
                                                                           "state (0: don't wait)."),
               workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Cancel a run: its whole process tree is stopped (a pipeline's or sweep's children too).
    Prints CancelRequested, then the final state once the run has stopped."""
    import time

    from scriptrun.rundir import is_terminal
    from scriptrun.runs.run import Run

    run = Run.get(_workspace(workspace), run_id)
    run.cancel()
    status = run.status  # what the agent answered: CancelRequested while the processes stop
    out.print(f"{run_id}: {status_text(status)}")
    deadline = time.monotonic() + wait
    while not is_terminal(status) and time.monotonic() < deadline:
        time.sleep(0.2)
        status = run.get_status()
    if is_terminal(status):
        out.print(f"{run_id}: {status_text(status)}")
    elif wait:
        err.print(f"{run_id} is still {status} after {wait:g} s; `scriptrun run show {run_id}` shows it later")


@run_app.command("download")
def download_run(run_id: str,
                 output_dir: Path = typer.Option(Path("."), "--output-dir", "-d", help="Where to write the files."),
                 prefix: Optional[str] = typer.Option(None, "--prefix", help="Only files under this path, "
                                                                            "e.g. outputs/."),
                 workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Download a run's files (outputs, logs, …)."""
    from scriptrun.runs.run import Run

    files = Run.get(_workspace(workspace), run_id).download_files(prefix=prefix, output_directory=str(output_dir))
    sys.stdout.write("".join(f"{path}\n" for path in files))  # plain lines: thousands of them, piped to other tools
    err.print(f"{len(files)} file(s) downloaded to {output_dir}")


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
def schema(pipeline: bool = typer.Option(False, "--pipeline", help="The pipeline YAML's schema instead."),
           write: Optional[Path] = typer.Option(None, "--write", help="Write it to this file (e.g. "
                                                ".scriptrun/schema/job.json) instead of printing it."),
           ) -> None:
    """The JSON Schema of the job YAML (or the pipeline YAML), generated from the models: point
    your editor at it for completion and checking (docs/editor-support.md)."""
    import json

    from scriptrun.spec.schema import job_schema, schema_document

    if pipeline:
        from scriptrun.pipeline.pipeline_yaml import PipelineYaml

        document = schema_document(PipelineYaml, "pipeline", "scriptrun pipeline")
    else:
        document = job_schema()
    text = json.dumps(document, indent=2) + "\n"
    if write is None:
        sys.stdout.write(text)
        return
    write.parent.mkdir(parents=True, exist_ok=True)
    write.write_text(text, encoding="utf-8")
    err.print(f"wrote {write}; make it a YAML file's first line for completion and checking in VS Code:\n"
              f"# yaml-language-server: $schema={os.path.relpath(write.resolve(), Path.cwd())}", markup=False)


# -- workspace / agent / ui ------------------------------------------------------------------------


@workspace_app.command("show")
def workspace_show(output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Show the workspace's folder, tracking store and settings."""
    data = _workspace(workspace).describe()
    emit(data, output, lambda: _key_values(data))


def _key_values(data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        echo(f"[bold]{key + ':':<24}[/]{escape(str(value))}")


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
def agent_status(output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Is the agent running, and what is it doing?"""
    from scriptrun.runs.run import agent_info

    ws = _workspace(workspace)
    info = agent_info(ws)
    if info is None:
        info = {"running": False, "workspace": str(ws.root)}
        if output is Output.table:
            out.print(f"agent: not running (workspace {ws.root}); it starts on the next submission")
            return
    else:
        info = {"running": True, **info}
    emit(info, output, lambda: _key_values(info))


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
def ui(port: int = typer.Option(5000, "--port", help="Port of the MLflow UI (0: any free port)."),
       host: str = typer.Option("127.0.0.1", "--host"), workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Open the MLflow UI on the workspace's tracking store, in its classic ML (training runs) view."""
    import socket

    ws = _workspace(workspace)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:  # uvicorn would only log "address already in use" and exit 0
            probe.bind((host, port))
        except OSError as exc:
            raise ScriptrunError(f"cannot serve the MLflow UI on {host}:{port}: {exc.strerror}; stop what uses it "
                                 "or pick another port (--port 5001, or --port 0 for any free one)",
                                 code="SR-PORT-IN-USE") from None
        port = probe.getsockname()[1]
    argv = [sys.executable, "-W", "ignore", "-m", "mlflow", "server", "--backend-store-uri", ws.tracking_uri,
            "--default-artifact-root", str(ws.artifact_root), "--host", host, "--port", str(port),
            "--workers", "1"]
    os.environ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no job executor: ~0.5 GiB, no scheduler noise
    os.environ["PYTHONWARNINGS"] = "ignore"  # MLflow's own dependencies' deprecation warnings
    err.print(f"MLflow UI for {ws.root}: http://{host}:{port}/#/experiments?workflowType=machine_learning "
              "(Ctrl-C to stop)")
    os.execv(sys.executable, argv)


# -- entry point -----------------------------------------------------------------------------------


def render_error(exc: ScriptrunError) -> None:
    err.print(f"[bold red]error:[/] {exc.headline}")
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            err.print(f"  [bold]{escape(problem.location())}[/]: {escape(problem.message)}")
            if problem.hint:  # a hint may hold YAML (`[a, b]`), which rich would read as markup
                err.print(f"      [dim]hint:[/] {escape(problem.hint)}")
        err.print(f"  {exc.see_also}", markup=False)
    else:
        rest = str(exc).split("\n", 1)[1:] if "\n" in str(exc) else []
        for line in rest:
            err.print(f"  {line}")


def _show_notices() -> None:
    """Print :class:`ConfigNotice` warnings (defaults chosen for the user) as ``note:`` lines;
    other warnings as Python shows them."""
    import warnings

    show = warnings.showwarning

    def showwarning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, ConfigNotice):
            err.print(f"note: {message}", markup=False, style="yellow")
        else:
            show(message, category, *args, **kwargs)

    warnings.showwarning = showwarning


def main() -> None:
    _show_notices()
    try:
        app()
    except ScriptrunError as exc:
        if not exc.is_user_error:
            raise
        render_error(exc)
        sys.exit(2 if isinstance(exc, ConfigError) else 1)
    except KeyboardInterrupt:
        sys.exit(130)
