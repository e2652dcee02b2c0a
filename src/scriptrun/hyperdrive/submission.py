"""``Experiment.submit(HyperDriveConfig)``: validate the base job once, plan it (snapshot and
spec), gather warm-start history, and hand a :class:`SweepController` to the agent as the
controller of a new sweep parent run.

The submitting process does nothing after that: the agent drives the sweep, so the submitter
may exit.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
import warnings
from typing import TYPE_CHECKING, Any

from scriptrun.config.prepare import prepare_job
from scriptrun.errors import ConfigError, Problem
from scriptrun.hyperdrive.controller import SweepController
from scriptrun.hyperdrive.run import DEFINITION_PROPERTY, HyperDriveRun
from scriptrun.hyperdrive.trial import duplicate_flags
from scriptrun.rundir import RunKind, RunStatus
from scriptrun.runs import submit as job_submission
from scriptrun.runs.run import Run
from scriptrun.workspace import Workspace

if TYPE_CHECKING:
    from scriptrun.hyperdrive.config import HyperDriveConfig

RESUME_FROM_TOTAL_RUNS = 1000


def submit_sweep(config: HyperDriveConfig, workspace: Workspace, experiment_name: str, *,
                 tags: dict[str, str] | None = None, run_id: str | None = None,
                 _parent_run_id: str | None = None, **kwargs: Any) -> HyperDriveRun:
    """Submit ``config`` as a sweep; return its :class:`HyperDriveRun` at once."""
    if kwargs:
        raise TypeError(f"Experiment.submit() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    spec = prepare_job(config._script_run_config(), workspace)
    names = list(config.hyperparameter_sampling.parameter_space)
    base_argv = list(spec.command) if isinstance(spec.command, list) else list(spec.arguments)
    duplicates = duplicate_flags(base_argv, names)
    if duplicates:
        warnings.warn(f"the job's arguments already pass {', '.join(duplicates)}; each trial gets both the base "
                      "value and the sampled one (the last one usually wins in argparse)", UserWarning, stacklevel=3)
    run_id = run_id or config.custom_run_id or f"HD_{uuid.uuid4()}"
    history = warm_start_history(config)
    resume_trials = resumed_trials(config, workspace, run_id)
    plan = job_submission.plan_job(spec, workspace)
    controller = sweep_controller(config, parent_run_id=run_id, base_spec=plan.spec.model_dump(mode="json"),
                                  snapshot_id=plan.snapshot_id, history=history, resume_trials=resume_trials)
    definition = config._definition()
    run = job_submission.submit_parent(
        workspace, experiment_name, kind=RunKind.SWEEP, controller=controller, run_id=run_id, tags=tags,
        properties={DEFINITION_PROPERTY: json.dumps(definition),
                    "primary_metric_config": json.dumps(definition["primary_metric_config"])},
        parent_run_id=_parent_run_id, run_class=HyperDriveRun)
    run._hyperdrive_config = config
    return run


def sweep_controller(config: HyperDriveConfig, *, parent_run_id: str, base_spec: dict[str, Any],
                     snapshot_id: str | None, history: list[dict[str, Any]] | None = None,
                     resume_trials: list[dict[str, Any]] | None = None,
                     step_outputs: dict[str, Any] | None = None) -> SweepController:
    """The controller of a new sweep of ``config`` (seeded by ``rng_seed`` when given)."""
    seed = (config.hyperparameter_sampling.properties or {}).get("rng_seed")
    return SweepController(
        parent_run_id=parent_run_id, base_spec=base_spec, snapshot_id=snapshot_id,
        sampling=config.hyperparameter_sampling.to_json(), primary_metric_name=config.primary_metric_name,
        primary_metric_goal=config.primary_metric_goal.wire, policy=config.policy.to_json(),
        max_total_runs=config.max_total_runs, max_concurrent_runs=config.max_concurrent_runs,
        max_duration_minutes=config.max_duration_minutes,
        seed=seed if isinstance(seed, int) else secrets.randbelow(2**31), history=history,
        resume_trials=resume_trials, started_at=time.time() if parent_run_id else None, step_outputs=step_outputs)


def warm_start_history(config: HyperDriveConfig) -> list[dict[str, Any]]:
    """The earlier sweeps' trials as ``{"hyperparameters", "value", "run_id"}`` (checked: ended
    Completed or Canceled, at most 1000 trials in all)."""
    problems: list[Problem] = []
    history: list[dict[str, Any]] = []
    total = 0
    for i, parent in enumerate(config.resume_from):
        status = parent.get_status()
        if status not in (RunStatus.COMPLETED.value, RunStatus.CANCELED.value):
            problems.append(Problem(f"resume_from[{i}]", f"{parent.id} is {status}: warm start needs a "
                                    "Completed or Canceled sweep", hint="wait_for_completion() first"))
            continue
        total += int(parent._definition().get("max_total_jobs") or 0)
        for row in parent.get_children_sorted_by_primary_metric():
            try:
                values = json.loads(row["hyperparameters"] or "null")
            except ValueError:
                values = None
            if isinstance(values, dict):
                history.append({"hyperparameters": values, "value": row["best_primary_metric"],
                                "run_id": row["run_id"]})
    if total > RESUME_FROM_TOTAL_RUNS:
        problems.append(Problem("resume_from", f"the earlier sweeps ran up to {total} trials, more than "
                                f"{RESUME_FROM_TOTAL_RUNS}", hint="warm start from fewer sweeps"))
    if problems:
        raise ConfigError(problems)
    return history


def resumed_trials(config: HyperDriveConfig, workspace: Workspace, parent_run_id: str) -> list[dict[str, Any]]:
    """One trial per ``resume_child_runs`` run: its hyperparameters, and its ``outputs/`` copied
    into the workspace as the ``--resume-from`` folder of the new trial."""
    out: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for i, child in enumerate(config.resume_child_runs):
        text = child.get_properties().get("hyperparameters")
        parent = child.parent
        if text is None and parent is not None:
            text = parent.get_tags().get(f"_aml_system_{child.id}")
        try:
            values = json.loads(text) if text else None
        except ValueError:
            values = None
        if not isinstance(values, dict):
            problems.append(Problem(f"resume_child_runs[{i}]", f"{child.id} has no recorded hyperparameters",
                                    hint="resume child runs of an earlier HyperDrive sweep"))
            continue
        folder = workspace.dir / "resume" / parent_run_id / child.id
        folder.mkdir(parents=True, exist_ok=True)
        _download_outputs(child, folder)
        out.append({"hyperparameters": values, "resume_from": {"url": str(folder / "outputs")},
                    "run_id": child.id})
    if problems:
        raise ConfigError(problems)
    return out


def _download_outputs(run: Run, folder: Any) -> None:
    (folder / "outputs").mkdir(exist_ok=True)
    run.download_files(prefix="outputs", output_directory=folder)
