"""The one submission path of script runs: ``submit_job(spec, …)``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from scriptrun.spec import JobSpec
from scriptrun.workspace import Workspace
from scriptrun.workspace.snapshot import take_snapshot

if TYPE_CHECKING:
    from scriptrun.runs.run import Run


def submit_job(spec: JobSpec, workspace: Workspace, experiment_name: str, *,
               tags: dict[str, str] | None = None, run_id: str | None = None,
               parent_run_id: str | None = None, yaml_origin: str | None = None) -> Run:
    """Snapshot ``spec.source_directory``, hand the spec to the workspace agent and return
    the run at once. ``spec`` must already have passed the full submit-time validation."""
    from scriptrun.runs.experiment import Experiment
    from scriptrun.runs.run import Run, agent_client, new_run_id

    snapshot = take_snapshot(workspace, spec.source_directory)
    run_id = run_id or new_run_id(experiment_name)
    tags = dict(tags or {})
    if yaml_origin:
        tags.setdefault("scriptrun.yaml", yaml_origin)
    result = agent_client(workspace).call(
        "submit", run_id=run_id, experiment=experiment_name, spec=spec.model_dump(mode="json"),
        snapshot_id=snapshot.id, tags=tags, parent_run_id=parent_run_id, client_env=dict(os.environ),
        client_python=sys.executable, target=spec.compute_target)
    details = {"runId": run_id, "experiment": experiment_name, "status": result["status"], "tags": tags,
               "target": spec.compute_target, "type": "scriptrun.scriptrun", "parentRunId": parent_run_id}
    return Run(Experiment(workspace, experiment_name), run_id, _details=details)
