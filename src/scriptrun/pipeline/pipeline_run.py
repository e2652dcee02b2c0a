"""Client side of pipeline runs: submission, ``PipelineRun``, ``StepRun`` and ``PortDataReference``.

A pipeline run is a parent run driven by a :class:`PipelineController` inside the workspace
agent; each step is a nested child run ``<pipeline run id>_<step name>``. The controller
records a per-step summary (``pipeline_steps.json``: status, reuse key and components,
reused-from, why not started) and the graph picture on the parent; ``get_reuse_info`` reads
them to say, per step, whether it was reused and, if not, why.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scriptrun.agent.protocol import Wait
from scriptrun.errors import ActivityFailedException, ConfigError, Problem
from scriptrun.pipeline.controller import (
    FORCED_PROPERTY,
    KEY_PROPERTY,
    STEP_PROPERTY,
    STEPS_FILE,
    PipelineController,
)
from scriptrun.pipeline.graph_svg import GRAPH_FILE, render_pipeline
from scriptrun.pipeline.parameter import resolve_parameters
from scriptrun.rundir import RunKind, RunStatus, is_terminal
from scriptrun.runs.run import Run, new_run_id
from scriptrun.spec.problems import did_you_mean
from scriptrun.spec.reuse import explain_reuse
from scriptrun.workspace import Workspace


def submit_pipeline(pipeline: Any, workspace: Workspace, experiment_name: str, *, tags: dict[str, str] | None = None,
                    pipeline_parameters: dict[str, Any] | None = None, continue_on_step_failure: bool = False,
                    regenerate_outputs: bool = False, rerun: Iterable[str] | str | None = None,
                    run_id: str | None = None, _parent_run_id: str | None = None, **kwargs: Any) -> PipelineRun:
    """``Experiment.submit(pipeline, ...)``: plan every step (validate, snapshot, keys), then
    hand the controller to the workspace agent. Returns at once."""
    from scriptrun.runs.submit import submit_parent  # the submit side (snapshots) only when submitting

    if kwargs:
        raise TypeError(f"Experiment.submit() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    names = [s.name for s in pipeline._collect()]
    rerun = [rerun] if isinstance(rerun, str) else list(rerun or [])
    unknown = [Problem("rerun", f"no step named {r!r}", hint=did_you_mean(r, names) or f"steps: {', '.join(names)}")
               for r in rerun if r not in names]
    if unknown:
        raise ConfigError(unknown)
    nodes, defaults = pipeline._plan(snapshot=True)
    values = resolve_parameters(defaults, pipeline_parameters)
    run_id = run_id or new_run_id(experiment_name)
    controller = PipelineController(run_id, nodes, values, continue_on_step_failure=continue_on_step_failure,
                                    regenerate_outputs=regenerate_outputs, rerun=rerun,
                                    description=pipeline.description)
    properties = {"azureml.runsource": "azureml.PipelineRun", "scriptrun.pipeline.steps": ",".join(controller.order)}
    if pipeline.description:
        properties["scriptrun.pipeline.description"] = pipeline.description
    tags = dict(tags or {})
    if getattr(pipeline, "_yaml_file", None):
        tags.setdefault("scriptrun.yaml", pipeline._yaml_file)
    return submit_parent(workspace, experiment_name, kind=RunKind.PIPELINE, controller=controller, run_id=run_id,
                         tags=tags, properties=properties, parent_run_id=_parent_run_id, run_class=PipelineRun)


class PortDataReference:
    """Where a step's output landed (``StepRun.get_output_data(name)``)."""

    def __init__(self, workspace: Workspace, name: str, datastore_name: str | None, path_on_datastore: str,
                 url: str | None = None):
        self.workspace = workspace
        self.name = name
        self.datastore_name = datastore_name
        self.path_on_datastore = path_on_datastore
        self.url = url

    def download(self, local_path: str | os.PathLike[str], overwrite: bool | None = None,
                 show_progress: bool | None = None) -> str:
        """Copy the output's files below ``local_path/<path on datastore>``; return that folder."""
        # a rare path: a PipelineRun only looked at does not build the data package and the spec models
        from scriptrun.data.dataset import copy_dataset
        from scriptrun.spec.job import DataLocationSpec, DatasetSpec

        location = (DataLocationSpec(datastore=self.datastore_name, path=self.path_on_datastore)
                    if self.datastore_name else DataLocationSpec(url=self.url))
        target = Path(local_path) / self.path_on_datastore
        copy_dataset(DatasetSpec(paths=[location]), self.workspace, target, overwrite=bool(overwrite))
        return str(target)

    def __repr__(self) -> str:
        return f"PortDataReference(name={self.name!r}, datastore={self.datastore_name!r}, path={self.path_on_datastore!r})"


class StepRun(Run):
    """One step of a pipeline run (a nested run): a ``Run`` plus its outputs and reuse facts."""

    @property
    def name(self) -> str:
        return self.properties.get(STEP_PROPERTY) or self._id.rsplit("_", 1)[-1]

    def get_output_data(self, name: str) -> PortDataReference:
        """Output ``name`` of this step (for a reused step: the original run's output)."""
        entries = self.get_details().get("outputDatasets") or []
        if not entries and self._reused_from():
            entries = Run.get(self.experiment.workspace, self._reused_from()).get_details().get("outputDatasets") or []
        for entry in entries:
            details = entry.get("outputDetails") or {}
            if details.get("outputName") == name:
                return PortDataReference(self.experiment.workspace, name, details.get("datastore"),
                                         details.get("path", ""), details.get("url"))
        known = [(e.get("outputDetails") or {}).get("outputName") for e in entries]
        raise ConfigError(Problem("name", f"step run {self._id} has no output {name!r}",
                                  hint=did_you_mean(name, [k for k in known if k]) or
                                  (f"its outputs: {', '.join(k for k in known if k)}" if any(known)
                                   else "it recorded no outputs (did it complete?)")))

    def _reused_from(self) -> str | None:
        summary = self._summary_entry()
        return (summary or {}).get("reused_from") or self._details.get("reusedFrom") or \
            self.properties.get("azureml.reusedrunid")

    def _summary_entry(self) -> dict[str, Any] | None:
        parent_id = self._details.get("parentRunId")
        if not parent_id:
            return None
        for entry in _steps_summary(self.experiment.workspace, parent_id):
            if entry.get("run_id") == self._id or entry.get("name") == self.name:
                return entry
        return None

    def get_reuse_info(self) -> dict[str, Any]:
        """Whether this step was reused and why (not): ``{"step", "reused", "reused_from",
        "reuse_key", "why": [...]}``."""
        entry = self._summary_entry() or {}
        reused_from = entry.get("reused_from") or self._reused_from()
        forced = entry.get("forced") or self.properties.get(FORCED_PROPERTY)
        info: dict[str, Any] = {"step": self.name, "run_id": self._id, "reused": bool(reused_from),
                                "reused_from": reused_from,
                                "reuse_key": entry.get("reuse_key") or self.properties.get(KEY_PROPERTY)}
        if reused_from:
            info["why"] = [f"reused {reused_from}: nothing in its key changed"]
        elif forced:
            info["why"] = [f"reuse disabled: {forced}"]
        else:
            previous = self._previous_components()
            lines = explain_reuse(entry.get("reuse_components") or {}, previous)
            info["why"] = lines or ["an earlier run had the same key but had not completed"]
        return info

    def _previous_components(self) -> dict[str, str] | None:
        """The reuse components of the latest earlier completed run of this step (any pipeline
        of this experiment), or None."""
        this_parent = self._details.get("parentRunId") or ""
        candidates = []
        for run in Run.list(self.experiment, include_children=True, properties={STEP_PROPERTY: self.name},
                            status=RunStatus.COMPLETED.value):
            parent = run._details.get("parentRunId") or ""
            if run.id == self._id or parent == this_parent or _started(parent) > _started(this_parent):
                continue
            candidates.append((_started(parent), parent))
        for _, parent in sorted(candidates, reverse=True):
            for entry in _steps_summary(self.experiment.workspace, parent):
                if entry.get("name") == self.name and entry.get("reuse_components"):
                    return entry["reuse_components"]
        return None


class PipelineRun(Run):
    """A submitted pipeline: a parent run whose children are its steps."""

    def get_steps(self) -> list[StepRun]:
        """The step runs created so far, in pipeline order."""
        order = (self.properties.get("scriptrun.pipeline.steps") or "").split(",")
        steps = [StepRun(self.experiment, c.id, _details=c._details) for c in self.get_children()]
        position = {f"{self._id}_{name}": i for i, name in enumerate(order)}
        return sorted(steps, key=lambda s: position.get(s.id, len(order)))

    def find_step_run(self, name: str) -> list[StepRun]:
        """The step runs of step ``name`` (a list, as in v1)."""
        return [s for s in self.get_steps() if s.name == name or s.id == f"{self._id}_{name}"]

    def get_reuse_info(self) -> dict[str, dict[str, Any]]:
        """Per step: reused or not, and why (see ``StepRun.get_reuse_info``)."""
        out = {}
        for entry in _steps_summary(self.experiment.workspace, self._id):
            if entry.get("run_id"):
                out[entry["name"]] = StepRun(self.experiment, entry["run_id"]).get_reuse_info()
            else:
                out[entry["name"]] = {"step": entry["name"], "reused": False, "reused_from": None,
                                      "why": [f"not started: {entry.get('skipped', 'the pipeline ended first')}"]}
        return out

    def get_graph_svg(self) -> str | None:
        """The pipeline's picture (SVG text): drawn now from the steps' current state while the
        pipeline runs, the one the controller stored (an MLflow artifact) once it ended."""
        stored = _parent_file(self.experiment.workspace, self._id, GRAPH_FILE)
        if stored is not None and is_terminal(self.get_status()):
            return stored
        text = _parent_file(self.experiment.workspace, self._id, STEPS_FILE)
        if text is None:
            return stored
        title = self.get_properties().get("scriptrun.pipeline.description")
        return render_pipeline(json.loads(text)["steps"], title=title).get(GRAPH_FILE, stored)

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float | None = None,
                            raise_on_error: bool = True) -> dict[str, Any]:
        """Block until the pipeline ends, printing each step's status as it changes when
        ``show_output``. A failed pipeline raises ``ActivityFailedException`` naming the failed
        step and its exit code."""
        deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
        seen: dict[str, str] = {}
        if show_output:
            print(f"PipelineRunId: {self._id}", flush=True)
        while True:
            status = self.get_status()
            if show_output:
                for step in self.get_steps():
                    if seen.get(step.id) != step.status:
                        seen[step.id] = step.status
                        print(f"  step {step.name}: {step.status}", flush=True)
            if is_terminal(status):
                break
            remaining = deadline - time.monotonic() if deadline else 5.0
            if remaining <= 0:
                raise TimeoutError(f"pipeline run {self._id} did not end within {timeout_seconds} s")
            # the agent answers as soon as the run ends (no polling delay on a quick pipeline)
            self._client.request(Wait(run_id=self._id, timeout=min(remaining, 0.2 if show_output else 5.0)))
        details = self.get_details()
        if show_output:
            print(f"\nPipelineRun Execution Summary\n==============================\nPipelineRun Status: "
                  f"{details['status']}", flush=True)
        if details["status"] == RunStatus.FAILED.value and raise_on_error:
            error = details.get("error") or {}
            message = f"pipeline run {self._id} failed: {error.get('message', 'no error recorded')}"
            if error.get("run_id"):
                try:
                    tail = (Run.get(self.experiment.workspace, error["run_id"]).get_details().get("error") or {}
                            ).get("stderr_tail")
                except Exception:  # noqa: BLE001 - the step's log tail is a courtesy
                    tail = None
                if tail:
                    message += f"\n--- end of step {error.get('step')}'s stderr ---\n{tail.rstrip()}"
            raise ActivityFailedException(message, error_details=error)
        sys.stdout.flush()
        return details


def _started(run_id: str) -> int:
    """The submission time (unix seconds) in a v1-shaped run id ``<experiment>_<secs>_<hex>``."""
    parts = run_id.rsplit("_", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0


def _steps_summary(workspace: Workspace, run_id: str) -> list[dict[str, Any]]:
    text = _parent_file(workspace, run_id, STEPS_FILE)
    try:
        return list(json.loads(text)["steps"]) if text else []
    except (ValueError, KeyError, TypeError):
        return []


def _parent_file(workspace: Workspace, run_id: str, name: str) -> str | None:
    """A file the controller stored on a parent run (its folder, else its artifacts)."""
    folder = workspace.run_dir(run_id)
    for candidate in (folder / name, folder / "files" / name, folder / "outputs" / name):
        if candidate.is_file():
            return candidate.read_text()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Run.get(workspace, run_id).download_file(name, Path(tmp) / name)
            return Path(path).read_text()
    except Exception:  # noqa: BLE001 - not stored (yet)
        return None
