"""The one submission path of script runs: ``submit_job(spec, …)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scriptrun.spec import JobSpec
from scriptrun.workspace import Workspace

if TYPE_CHECKING:
    from scriptrun.runs.run import Run


def submit_job(spec: JobSpec, workspace: Workspace, experiment_name: str, *,
               tags: dict[str, str] | None = None, run_id: str | None = None,
               parent_run_id: str | None = None, yaml_origin: str | None = None) -> Run:
    """Snapshot ``spec.source_directory``, hand the spec to the workspace agent and return
    the run at once. ``spec`` must already have passed the full submit-time validation."""
    raise NotImplementedError  # implemented with the agent
