"""``ChildBatch``: several jobs run as the children of one parent, under the built-in
batch controller (a concurrency cap, and the first failure stops the rest).

    batch = ChildBatch([ScriptRunConfig("src", "shard.py", arguments=["--shard", i]) for i in range(8)],
                       max_concurrent_runs=2)
    parent = Experiment(ws, "shards").submit(batch)        # or run.submit_child(batch)
    parent.wait_for_completion()

The agent drives the batch: the submitter may exit, and a batch survives an agent restart.
"""

from __future__ import annotations

from typing import Any

from scriptrun.agent.controllers import BatchController, ChildRequest
from scriptrun.config.prepare import prepare_job
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.rundir import RunKind
from scriptrun.runs.experiment import register_submit_function
from scriptrun.runs.run import Run, new_run_id
from scriptrun.runs.submit import plan_job, submit_parent
from scriptrun.workspace import Workspace


class ChildBatch:
    """Run ``configs`` as children of one parent run, at most ``max_concurrent_runs`` at a
    time (the workspace's limit also applies); unless ``continue_on_failure``, the first
    child that fails cancels the others and fails the parent."""

    def __init__(self, configs: list[ScriptRunConfig], max_concurrent_runs: int | None = None,
                 continue_on_failure: bool = False):
        problems = [Problem(f"configs[{i}]", f"expected a ScriptRunConfig, got {type(c).__name__}")
                    for i, c in enumerate(configs) if not isinstance(c, ScriptRunConfig)]
        if not configs:
            problems.append(Problem("configs", "a batch needs at least one ScriptRunConfig"))
        if max_concurrent_runs is not None and (not isinstance(max_concurrent_runs, int) or max_concurrent_runs < 1):
            problems.append(Problem("max_concurrent_runs", f"must be a positive integer, got {max_concurrent_runs!r}"))
        if problems:
            raise ConfigError(problems)
        self.configs = list(configs)
        self.max_concurrent_runs = max_concurrent_runs
        self.continue_on_failure = continue_on_failure


def _submit(batch: ChildBatch, workspace: Workspace, experiment_name: str, *, tags: dict[str, str] | None = None,
            run_id: str | None = None, _parent_run_id: str | None = None, **kwargs: Any) -> Run:
    if kwargs:
        raise TypeError(f"Experiment.submit() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    run_id = run_id or new_run_id(experiment_name)
    children = []
    for i, config in enumerate(batch.configs):
        plan = plan_job(prepare_job(config, workspace), workspace)
        children.append(ChildRequest(run_id=f"{run_id}_{i}", spec=plan.spec.model_dump(mode="json"),
                                     snapshot_id=plan.snapshot_id, reuse_key=plan.reuse_key,
                                     reuse_components=plan.reuse_components))
    controller = BatchController(children, batch.max_concurrent_runs, batch.continue_on_failure)
    return submit_parent(workspace, experiment_name, kind=RunKind.BATCH, controller=controller, run_id=run_id,
                         tags=tags, parent_run_id=_parent_run_id)


register_submit_function(ChildBatch, _submit)
