"""``scriptrun run submit-hyperdrive`` (v1's HyperDrive YAML) and ``scriptrun sweep show``:
submit a sweep and stream trial starts, ends and the best value; show the trials as a table
sorted by the primary metric. Thin: parse, call the HyperDrive API, render."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import typer

from scriptrun.cli.common import (
    JsonOpt,
    Output,
    OutputOpt,
    WorkspaceOpt,
    echo,
    emit,
    err,
    follow_parent,
    make_table,
    out,
    output_format,
    status_text,
)
from scriptrun.cli.common import workspace as workspace_of
from scriptrun.errors import ConfigError, Problem

sweep_app = typer.Typer(no_args_is_help=True, help="HyperDrive sweeps: inspect trials.")

POLL_SECONDS = 0.5


def validate_hyperdrive_file(file: str) -> None:
    """``scriptrun validate sweep.yml``: every problem with file, line and hint (via ConfigError)."""
    from scriptrun.hyperdrive.yamlfile import load_hyperdrive_yaml

    hd = load_hyperdrive_yaml(file)
    out.print(f"[green]ok[/]: {file} is a valid HyperDrive configuration ({type(hd.sampling).__name__}, "
              f"{hd.primary_metric_goal.value if hasattr(hd.primary_metric_goal, 'value') else ''} "
              f"{hd.primary_metric_name!r}, up to {hd.max_total_runs} trials)")


def submit_hyperdrive(
    config: str = typer.Option(..., "--config", "-c", help="Job YAML file (or v1 .runconfig) of one trial."),
    hyperdrive: str = typer.Option(..., "--hyperdrive-configuration-name", help="v1 HyperDrive YAML: sampling, "
                                   "policy, primary_metric_*, max_*."),
    experiment: Optional[str] = typer.Option(None, "--experiment-name", "-e",
                                             help="Experiment (default: the source folder's name)."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="Override a job key (repeatable)."),
    no_wait: bool = typer.Option(False, "--async", help="Return once submitted; don't stream trials."),
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """Submit a HyperDrive sweep of a job; stream trial starts, ends and the best value."""
    from scriptrun.config.command_line import default_experiment_name, script_run_config_from_args
    from scriptrun.hyperdrive.yamlfile import load_hyperdrive_yaml
    from scriptrun.runs.experiment import Experiment

    hd = load_hyperdrive_yaml(hyperdrive)
    src = script_run_config_from_args(config, [], overrides=overrides or [])
    ws = workspace_of(workspace, create=True)
    run = Experiment(ws, experiment or default_experiment_name(src)).submit(hd.to_config(run_config=src))
    err.print(f"Submitted sweep [bold]{run.id}[/] to experiment [bold]{run.experiment.name}[/] "
              f"(workspace {ws.root})")
    follow_parent(run, "sweep", no_wait, lambda r: _stream_trials(r, hd.primary_metric_name))


def _stream_trials(run: Any, metric: str) -> str:
    from scriptrun.rundir import is_terminal

    seen: dict[str, str] = {}
    best: tuple[str, float] | None = None
    while True:
        status = run.get_status()
        hyperparameters = None
        changed = False
        for child in sorted(run.get_children(), key=lambda c: c.id):
            child_status = child.get_status()
            previous = seen.get(child.id)
            if previous == child_status:
                continue
            seen[child.id] = child_status
            if previous is None:
                hyperparameters = hyperparameters or run.get_hyperparameters()
                out.print(f"  trial [bold]{child.id}[/] started {_params(hyperparameters.get(child.id))}")
            if is_terminal(child_status):
                changed = True
                out.print(f"  trial [bold]{child.id}[/] {status_text(child_status)}"
                              + _why(child, child_status))
        if changed:
            top = run.get_children_sorted_by_primary_metric(top=1, discard_no_metric=True)
            if top and (best is None or top[0]["best_primary_metric"] != best[1]):
                best = (top[0]["run_id"], top[0]["best_primary_metric"])
                out.print(f"  best {metric} so far: [bold]{best[1]:g}[/] ({best[0]})")
        if is_terminal(status):
            return status
        time.sleep(POLL_SECONDS)


def _params(text: str | None) -> str:
    if not text:
        return ""
    try:
        return " ".join(f"{k}={v}" for k, v in json.loads(text).items())
    except (ValueError, AttributeError):
        return text


def _why(child: Any, status: str) -> str:
    if status == "Completed":
        return ""
    message = (child.get_details().get("error") or {}).get("message")
    return f": {message.splitlines()[0]}" if message else ""


@sweep_app.command("show")
def show(run_id: str = typer.Argument(..., help="A HyperDrive run id (HD_...)."),
         output: Output = OutputOpt,
         as_json: bool = JsonOpt,
         workspace: Optional[Path] = WorkspaceOpt) -> None:
    """The sweep's trials, best first: hyperparameters, best primary metric, status, why stopped."""
    from scriptrun.hyperdrive.run import HyperDriveRun
    from scriptrun.runs.run import Run

    base = Run.get(workspace_of(workspace), run_id)
    run = HyperDriveRun(base.experiment, run_id)
    metric, goal = run._primary_metric()
    if metric is None:
        raise ConfigError(Problem("RUN_ID", f"run {run_id} is not a HyperDrive sweep",
                                  hint="`scriptrun run list` shows the runs; sweeps' ids start with HD_"))
    rows = run.get_children_sorted_by_primary_metric()
    for row in rows:
        row["why_stopped"] = _why(Run.get(run.experiment.workspace, row["run_id"]), row["status"])[2:]
    status = run.get_status()

    def table() -> None:
        t = make_table("Trial", "Hyperparameters", f"Best {metric} ({goal})", "Status", "Why stopped")
        for row in rows:
            value = row["best_primary_metric"]
            t.add_row(row["run_id"], _params(row["hyperparameters"]), "" if value is None else f"{value:g}",
                      status_text(row["status"]), row["why_stopped"])
        echo(f"sweep [bold]{run_id}[/]: {status_text(status)}, {len(rows)} trial(s)")
        t.print()

    emit({"run_id": run_id, "status": status, "primary_metric": metric, "goal": goal, "trials": rows},
         output_format(output, as_json), table)
