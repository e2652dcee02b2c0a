"""The one submission path: plan a job (snapshot + content key), then create its run.

Every script run — standalone, pipeline step or sweep trial — is planned by
:func:`plan_job` and created by :func:`submit_job` (or by a controller's ``SubmitChild``,
which carries a plan made here). Parent runs whose children a controller drives
(pipelines, sweeps, child batches) are created by :func:`submit_parent`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scriptrun.agent.controllers import Controller, controller_path
from scriptrun.agent.protocol import Submit, SubmitParent
from scriptrun.errors import SubmitError, WorkspaceError
from scriptrun.rundir import RunKind
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run, agent_client, new_run_id
from scriptrun.spec import JobSpec
from scriptrun.spec.reuse import reuse_key, static_components
from scriptrun.workspace import Workspace
from scriptrun.workspace.keyvault import resolve_secrets
from scriptrun.workspace.snapshot import take_snapshot


@dataclass(frozen=True)
class JobPlan:
    """A job ready to be created: its spec, its source snapshot, and its content key.

    ``reuse_key`` is a hash of ``reuse_components`` (:func:`scriptrun.spec.reuse.static_components`:
    the source snapshot and each file's hash, each part of the canonical spec, the environment,
    each input's dataset version and fingerprint). Two runs with the same key would do the same work."""

    spec: JobSpec
    snapshot_id: str
    reuse_key: str
    reuse_components: dict[str, str]
    source_files: dict[str, str]  # relative path -> content hash


def plan_job(spec: JobSpec, workspace: Workspace) -> JobPlan:
    """Snapshot ``spec.source_directory`` and compute the job's content key. ``spec`` must
    already have passed the full submit-time validation (``prepare_job``)."""
    snapshot = take_snapshot(workspace, spec.source_directory)
    files = {path: sha for path, (sha, _mode) in snapshot.files.items()}
    components = static_components("", spec.model_dump(mode="json"), snapshot.id, files)
    return JobPlan(spec, snapshot.id, reuse_key(components), components, files)


def submit_job(spec: JobSpec, workspace: Workspace, experiment_name: str, *,
               tags: dict[str, str] | None = None, run_id: str | None = None,
               parent_run_id: str | None = None, yaml_origin: str | None = None) -> Run:
    """Plan ``spec``, hand it to the workspace agent and return the run at once."""
    client_env, secrets = split_secrets(workspace, spec.secret_environment_variables)  # a missing one: fail first
    plan = plan_job(spec, workspace)
    run_id = run_id or new_run_id(experiment_name)
    tags = dict(tags or {})
    if yaml_origin:
        tags.setdefault("scriptrun.yaml", yaml_origin)
    result = agent_client(workspace).request(Submit(
        run_id=run_id, experiment=experiment_name, spec=spec.model_dump(mode="json"), snapshot_id=plan.snapshot_id,
        tags=tags, parent_run_id=parent_run_id, client_env=client_env, secrets=secrets, client_python=sys.executable,
        target=spec.compute_target, reuse_key=plan.reuse_key, reuse_components=plan.reuse_components))
    details = {"runId": run_id, "experiment": experiment_name, "status": result["status"], "tags": tags,
               "target": spec.compute_target, "type": RunKind.SCRIPT.value, "parentRunId": parent_run_id}
    return Run(Experiment(workspace, experiment_name), run_id, _details=details)


def submit_parent(workspace: Workspace, experiment_name: str, *, kind: RunKind, controller: Controller,
                  run_id: str, tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
                  parent_run_id: str | None = None, run_class: type[Run] = Run) -> Run:
    """Create a parent run that the agent drives with ``controller`` (built by the caller
    with ``run_id``, so that it can name its children ``<run_id>_<…>``) and return it at once."""
    state = controller.to_state()
    client_env, secrets = split_secrets(workspace, _secret_names(state))
    agent_client(workspace).request(SubmitParent(
        run_id=run_id, experiment=experiment_name, kind=kind, controller=controller_path(type(controller)),
        state=state, tags=dict(tags or {}), properties=dict(properties or {}), parent_run_id=parent_run_id,
        client_env=client_env, secrets=secrets, client_python=sys.executable))
    return run_class(Experiment(workspace, experiment_name), run_id)


def split_secrets(workspace: Workspace, names: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The submitter's environment without the secret ``names``, and their values (from that
    environment, else the workspace's secrets file), sent to the agent apart so that no run
    record keeps them."""
    names = set(names)
    try:
        secrets = resolve_secrets(sorted(names), os.environ, workspace) if names else {}
    except WorkspaceError as exc:
        raise SubmitError(exc.message) from None
    return {k: v for k, v in os.environ.items() if k not in names}, secrets


def _secret_names(state: Any) -> set[str]:
    """Every secret name declared by a job spec inside a controller's state (pipeline steps, trials)."""
    if isinstance(state, dict):
        names = state.get("secret_environment_variables")
        found = set(names) if isinstance(names, list) else set()
        return found.union(*map(_secret_names, state.values()))
    if isinstance(state, list):
        return set().union(*map(_secret_names, state))
    return set()
