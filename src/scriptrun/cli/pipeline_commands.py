"""``scriptrun run submit-pipeline`` and ``scriptrun pipeline ...``: submit a pipeline YAML and
stream its steps, say why each step was (not) reused, write its picture, and work with
published pipelines. Thin: parse, call the pipeline API, render."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from scriptrun.cli.common import (
    Output,
    OutputOpt,
    WorkspaceOpt,
    emit,
    err,
    follow_parent,
    make_table,
    out,
    status_text,
)
from scriptrun.cli.common import workspace as workspace_of
from scriptrun.errors import ConfigError, Problem

pipeline_app = typer.Typer(no_args_is_help=True, help="Pipelines: why steps were reused, the graph, "
                                                      "published pipelines.")

POLL_SECONDS = 0.5


def yaml_kind(file: str) -> str | None:
    """``"pipeline"`` for a pipeline YAML (``jobs:``), ``"hyperdrive"`` for v1's HyperDrive YAML
    (``sampling:`` / ``primary_metric_name:``), else None (a job file, or unreadable)."""
    from scriptrun.spec.yamlio import load_yaml_with_lines

    try:
        data, _ = load_yaml_with_lines(file)  # the bounded loader: hostile files end in a ConfigError
    except ConfigError:
        return None  # the job-file path reports it
    if not isinstance(data, dict):
        return None
    if "jobs" in data:
        return "pipeline"
    if "sampling" in data or "primary_metric_name" in data:
        return "hyperdrive"
    return None


def validate_pipeline_file(file: str, workspace: Optional[Path]) -> None:
    """``scriptrun validate pipeline.yml``: the YAML's problems (file:line) and the plan's."""
    from scriptrun.pipeline.pipeline import Pipeline
    from scriptrun.workspace import Workspace

    ws = Workspace.get(workspace) if workspace else (Workspace.find() or Workspace(Path.cwd()))
    pipeline = Pipeline.from_yaml(ws, file)
    problems = pipeline.validate()
    if problems:
        err.print(f"[bold red]error:[/] {file}: {len(problems)} problem(s) in the pipeline")
        for line in problems:
            err.print(f"  {line}")
        raise typer.Exit(2)
    out.print(f"[green]ok[/]: {file} is a valid pipeline ({len(pipeline.steps)} steps: "
              f"{', '.join(s.name for s in pipeline.steps)})")


def _parameters(overrides: list[str], file: str) -> dict[str, Any]:
    import yaml

    values: dict[str, Any] = {}
    problems = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.startswith("inputs.") or key == "inputs.":
            problems.append(Problem("--set", f"{item!r}: a pipeline takes only pipeline inputs",
                                    hint="--set inputs.<name>=<value>, e.g. --set inputs.lr=0.5"))
            continue
        try:
            values[key[len("inputs."):]] = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            values[key[len("inputs."):]] = raw
    if problems:
        raise ConfigError(problems)
    return values


def _default_experiment(file: str) -> str:
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in Path(file).resolve().parent.name)
    return name.lstrip("_-") or "Default"


def submit_pipeline(
    config: str = typer.Option(..., "--config", "-c", help="Pipeline YAML file (`jobs:`)."),
    experiment: Optional[str] = typer.Option(None, "--experiment-name", "-e",
                                             help="Experiment (default: the YAML file's folder name)."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="A pipeline input: --set inputs.lr=0.5 "
                                                                     "(repeatable)."),
    rerun: Optional[list[str]] = typer.Option(None, "--rerun", help="Run this step (and its dependants) again "
                                                                    "even if reusable (repeatable)."),
    regenerate_outputs: bool = typer.Option(False, "--regenerate-outputs", help="Reuse no step."),
    continue_on_step_failure: bool = typer.Option(False, "--continue-on-step-failure",
                                                  help="Keep running independent steps after a failure."),
    no_wait: bool = typer.Option(False, "--async", help="Return once submitted; don't stream step statuses."),
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """Submit a pipeline YAML, stream each step's status as it changes, exit non-zero if it fails."""
    from scriptrun.pipeline.pipeline import Pipeline

    values = _parameters(overrides or [], config)
    ws = workspace_of(workspace, create=True)
    pipeline = Pipeline.from_yaml(ws, config)
    run = pipeline.submit(experiment or _default_experiment(config), pipeline_parameters=values or None,
                          continue_on_step_failure=continue_on_step_failure,
                          regenerate_outputs=regenerate_outputs, rerun=rerun or None)
    err.print(f"Submitted pipeline run [bold]{run.id}[/] to experiment [bold]{run.experiment.name}[/] "
              f"(workspace {ws.root})")
    follow_parent(run, "pipeline", no_wait, _stream_steps)


def _stream_steps(run: Any) -> str:
    from scriptrun.rundir import is_terminal

    seen: dict[str, str] = {}
    while True:
        status = run.get_status()
        for step in run.get_steps():
            step_status = step.get_status()
            if seen.get(step.id) != step_status:
                seen[step.id] = step_status
                reused = step.properties.get("azureml.reusedrunid") or step.get_details().get("reusedFrom")
                note = f" [dim](reused {reused})[/]" if reused else ""
                out.print(f"  step [bold]{step.name}[/]: {status_text(step_status)}{note}")
        if is_terminal(status):
            return status
        time.sleep(POLL_SECONDS)


def _pipeline_run(workspace: Optional[Path], run_id: str) -> Any:
    from scriptrun.pipeline.pipeline_run import PipelineRun
    from scriptrun.runs.run import Run

    run = Run.get(workspace_of(workspace), run_id)
    if run.properties.get("azureml.runsource") != "azureml.PipelineRun":
        raise ConfigError(Problem("RUN_ID", f"run {run_id} is not a pipeline run",
                                  hint="`scriptrun run list` shows the runs; a pipeline run's steps are "
                                       "<pipeline run id>_<step>"))
    return PipelineRun(run.experiment, run_id)


@pipeline_app.command("why")
def why(run_id: str = typer.Argument(..., help="A pipeline run id."),
        step: Optional[str] = typer.Argument(None, help="Only this step."),
        workspace: Optional[Path] = WorkspaceOpt) -> None:
    """For each step: reused or not, and why (which part of its reuse key changed)."""
    from scriptrun.spec.problems import did_you_mean

    info = _pipeline_run(workspace, run_id).get_reuse_info()
    if step is not None:
        if step not in info:
            raise ConfigError(Problem("STEP", f"pipeline run {run_id} has no step {step!r}",
                                      hint=did_you_mean(step, list(info)) or f"steps: {', '.join(info)}"))
        info = {step: info[step]}
    for name, entry in info.items():
        verdict = "[green]reused[/]" if entry.get("reused") else "[yellow]ran[/]"
        out.print(f"[bold]{name}[/]: {verdict}")
        for line in entry.get("why") or []:
            out.print(f"    {line}")


@pipeline_app.command("graph")
def graph(run_id: str = typer.Argument(..., help="A pipeline run id."),
          output: Path = typer.Option(Path("graph.svg"), "--output", "-o", help="Where to write the SVG."),
          workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Write the pipeline run's graph (steps coloured by status, reused steps marked) as SVG."""
    svg = _pipeline_run(workspace, run_id).get_graph_svg()
    if svg is None:
        raise ConfigError(Problem("RUN_ID", f"pipeline run {run_id} has no stored graph yet",
                                  hint="the controller stores it once the run starts; try again shortly"))
    output.write_text(svg)
    out.print(f"graph of {run_id} written to {output}")


@pipeline_app.command("list")
def list_published(output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """List published pipelines (latest version of each)."""
    from scriptrun.pipeline.published import PublishedPipeline

    pipelines = PublishedPipeline.list(workspace_of(workspace))
    rows = [{"name": p.name, "version": p.version, "label": p.version_label, "steps": p.get_step_names(),
             "description": p.description} for p in pipelines]

    def table() -> None:
        t = make_table("Name", "Version", "Label", "Steps", "Description")
        for row in rows:
            t.add_row(row["name"], str(row["version"]), row["label"] or "", ", ".join(row["steps"]),
                      row["description"] or "")
        t.print()

    emit(rows, output, table)


@pipeline_app.command("show")
def show_published(name: str = typer.Argument(..., help="NAME or NAME:VERSION."), output: Output = OutputOpt,
                   workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Show a published pipeline: its version, description and YAML definition."""
    import yaml

    from scriptrun.pipeline.published import PublishedPipeline

    p = PublishedPipeline.get(workspace_of(workspace), name)
    data = {"name": p.name, "version": p.version, "label": p.version_label, "description": p.description,
            "pipeline": p._definition["pipeline"]}

    def table() -> None:
        out.print(f"[bold]{p.name}[/] version {p.version}" + (f" ({p.version_label})" if p.version_label else ""))
        if p.description:
            out.print(p.description)
        out.print(yaml.safe_dump(data["pipeline"], sort_keys=False).rstrip(), markup=False)

    emit(data, output, table)


@pipeline_app.command("submit")
def submit_published(
    name: str = typer.Argument(..., help="NAME or NAME:VERSION."),
    experiment: str = typer.Option(..., "--experiment-name", "-e", help="Experiment to submit to."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="--set inputs.lr=0.5 (repeatable)."),
    no_wait: bool = typer.Option(False, "--async", help="Return once submitted."),
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """Submit a published pipeline; stream its steps unless --async."""
    from scriptrun.pipeline.published import PublishedPipeline

    ws = workspace_of(workspace)
    values = _parameters(overrides or [], name)
    run = PublishedPipeline.get(ws, name).submit(ws, experiment, pipeline_parameters=values or None)
    err.print(f"Submitted pipeline run [bold]{run.id}[/] to experiment [bold]{experiment}[/]")
    follow_parent(run, "pipeline", no_wait, _stream_steps)
