"""The one submission path: plan a job (snapshot + content key), then create its run.

Every script run — standalone, pipeline step or sweep trial — is planned by
:func:`plan_job` and created by :func:`submit_job` (or by a controller's ``SubmitChild``,
which carries a plan made here). Parent runs whose children a controller drives
(pipelines, sweeps, child batches) are created by :func:`submit_parent`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from scriptrun.agent.controllers import Controller, controller_path
from scriptrun.agent.protocol import Submit, SubmitParent
from scriptrun.rundir import RunKind
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run, agent_client, new_run_id
from scriptrun.spec import JobSpec
from scriptrun.spec.job import DatasetSpec
from scriptrun.workspace import Workspace
from scriptrun.workspace.snapshot import take_snapshot


@dataclass(frozen=True)
class JobPlan:
    """A job ready to be created: its spec, its source snapshot, and its content key.

    ``reuse_key`` is a hash of ``reuse_components``: the canonical spec without its
    environment and inputs (``spec``), the snapshot id (``source``), the environment's
    definition (``environment``) and each input's dataset version and fingerprint
    (``input.<name>``). Two runs with the same key would do the same work."""

    spec: JobSpec
    snapshot_id: str
    reuse_key: str
    reuse_components: dict[str, str]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:24]


def reuse_components(spec: JobSpec, snapshot_id: str) -> dict[str, str]:
    data = spec.model_dump(mode="json")
    environment, inputs = data.pop("environment"), data.pop("inputs")
    components = {"spec": _digest(data), "source": snapshot_id, "environment": _digest(environment)}
    for name, item in sorted(spec.inputs.items()):
        dataset = item.dataset
        if isinstance(dataset, DatasetSpec):
            components[f"input.{name}"] = (f"{dataset.name}:{dataset.version} {dataset.fingerprint}" if dataset.name
                                           else _digest(inputs[name]))
        else:
            components[f"input.{name}"] = dataset
    return components


def plan_job(spec: JobSpec, workspace: Workspace) -> JobPlan:
    """Snapshot ``spec.source_directory`` and compute the job's content key. ``spec`` must
    already have passed the full submit-time validation (``prepare_job``)."""
    snapshot = take_snapshot(workspace, spec.source_directory)
    components = reuse_components(spec, snapshot.id)
    return JobPlan(spec, snapshot.id, _digest(components), components)


def submit_job(spec: JobSpec, workspace: Workspace, experiment_name: str, *,
               tags: dict[str, str] | None = None, run_id: str | None = None,
               parent_run_id: str | None = None, yaml_origin: str | None = None) -> Run:
    """Plan ``spec``, hand it to the workspace agent and return the run at once."""
    plan = plan_job(spec, workspace)
    run_id = run_id or new_run_id(experiment_name)
    tags = dict(tags or {})
    if yaml_origin:
        tags.setdefault("scriptrun.yaml", yaml_origin)
    result = agent_client(workspace).request(Submit(
        run_id=run_id, experiment=experiment_name, spec=spec.model_dump(mode="json"), snapshot_id=plan.snapshot_id,
        tags=tags, parent_run_id=parent_run_id, client_env=dict(os.environ), client_python=sys.executable,
        target=spec.compute_target, reuse_key=plan.reuse_key, reuse_components=plan.reuse_components))
    details = {"runId": run_id, "experiment": experiment_name, "status": result["status"], "tags": tags,
               "target": spec.compute_target, "type": RunKind.SCRIPT.value, "parentRunId": parent_run_id}
    return Run(Experiment(workspace, experiment_name), run_id, _details=details)


def submit_parent(workspace: Workspace, experiment_name: str, *, kind: RunKind, controller: Controller,
                  run_id: str, tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
                  parent_run_id: str | None = None, run_class: type[Run] = Run) -> Run:
    """Create a parent run that the agent drives with ``controller`` (built by the caller
    with ``run_id``, so that it can name its children ``<run_id>_<…>``) and return it at once."""
    agent_client(workspace).request(SubmitParent(
        run_id=run_id, experiment=experiment_name, kind=kind, controller=controller_path(type(controller)),
        state=controller.to_state(), tags=dict(tags or {}), properties=dict(properties or {}),
        parent_run_id=parent_run_id, client_env=dict(os.environ), client_python=sys.executable))
    return run_class(Experiment(workspace, experiment_name), run_id)
