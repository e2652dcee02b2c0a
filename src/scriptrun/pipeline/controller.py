"""``PipelineController``: the decision logic of one pipeline run (pure: no agent or MLflow).

The agent's controller host feeds it events and carries out what it returns (see
:mod:`scriptrun.agent.controllers`). It submits every step whose upstream steps completed,
filling the step's upstream inputs from the producers' output lineage (a reused producer's
outputs are the original's) and its pipeline parameters, and computing its reuse key. A
failed step fails the pipeline: running steps are canceled and nothing new starts, unless
``continue_on_step_failure`` (then only its downstream steps never start). Canceling starts
nothing new. Its state is plain JSON, so a restarted agent rebuilds it and goes on without
re-running finished steps; repeated events are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from scriptrun.agent.controllers import (
    Action,
    CancelChild,
    ChildInfo,
    ChildRequest,
    FinishParent,
    SubmitChild,
    UpdateParent,
)
from scriptrun.pipeline.graph import StepNode, downstream, fill_parameters, topological_order
from scriptrun.pipeline.graph_svg import render_pipeline
from scriptrun.rundir import RunStatus
from scriptrun.spec.reuse import parameter_component, reuse_key, upstream_component

STEPS_FILE = "pipeline_steps.json"  # the parent's per-step summary (status, reuse, why)
STEP_PROPERTY = "scriptrun.pipeline.step"
KEY_PROPERTY = "scriptrun.reuse.key"
FORCED_PROPERTY = "scriptrun.reuse.forced"

_COMPLETED, _FAILED, _CANCELED = RunStatus.COMPLETED.value, RunStatus.FAILED.value, RunStatus.CANCELED.value
_NOT_STARTED = RunStatus.NOT_STARTED.value


class PipelineController:
    """Runs the steps of one pipeline in dependency order (see the module docstring)."""

    def __init__(self, pipeline_run_id: str, steps: list[StepNode], parameters: dict[str, Any] | None = None, *,
                 continue_on_step_failure: bool = False, regenerate_outputs: bool = False,
                 rerun: Iterable[str] = (), max_concurrent_children: int | None = None,
                 description: str | None = None, states: dict[str, dict[str, Any]] | None = None,
                 started: bool = False, canceled: bool = False, stopping: bool = False, finished: bool = False):
        self.pipeline_run_id = pipeline_run_id
        self.steps = {s.name: s for s in steps}
        self.order = topological_order(steps)
        self.parameters = dict(parameters or {})
        self.continue_on_step_failure = continue_on_step_failure
        self.regenerate_outputs = regenerate_outputs
        self.rerun = sorted(rerun)
        self.max_concurrent_children = max_concurrent_children
        self.description = description
        self.states: dict[str, dict[str, Any]] = {n: dict((states or {}).get(n) or {"status": _NOT_STARTED})
                                                  for n in self.order}
        self.started, self.canceled, self.stopping, self.finished = started, canceled, stopping, finished
        self._forced = downstream(steps, self.rerun) if self.rerun else set()
        self._steps_json: list[dict[str, Any]] | None = None  # the steps never change: serialised once

    def run_id(self, step: str) -> str:
        return f"{self.pipeline_run_id}_{step}"

    # -- events -------------------------------------------------------------------------------

    def start(self) -> list[Action]:
        if self.started:
            return []
        self.started = True
        update = UpdateParent(properties={"scriptrun.pipeline.steps": ",".join(self.order)},
                              files=self._files())  # the graph: drawn at the end (and live by get_graph_svg)
        return [update, *self._advance()]

    def on_child_status(self, child: ChildInfo) -> list[Action]:
        name = self._step_of(child.run_id)
        if name is None or self.finished:
            return []
        state = self.states[name]
        if not state.get("submitted") or RunStatus(state["status"]).is_terminal():
            return []  # not ours yet, or a repeat after the step ended
        state["status"] = child.status
        if child.reused_from:
            state["reused_from"] = child.reused_from
        if not child.is_terminal:
            return []
        state["outputs"] = list(child.output_datasets)
        actions: list[Action] = []
        if child.status != _COMPLETED:
            state["error"] = child.error or {}
            if not self.continue_on_step_failure and not self.stopping and not self.canceled:
                self.stopping = True
                actions += [CancelChild(self.run_id(n), f"step {name} {child.status.lower()}")
                            for n in self.order if self._running(n)]
        return actions + self._advance()

    def on_metrics(self, run_id: str, records: list[dict[str, Any]]) -> list[Action]:
        return []

    def on_tick(self, now: float) -> list[Action]:
        return []

    def cancel(self) -> list[Action]:
        """The host cancels every unfinished child itself; here: start nothing new, and finish
        at once when nothing is running."""
        if self.finished or self.canceled:
            return []
        self.canceled = True
        return self._advance()

    # -- decisions ------------------------------------------------------------------------------

    def _advance(self) -> list[Action]:
        actions: list[Action] = []
        if not (self.canceled or self.stopping):
            for name in self.order:
                if self._ready(name):
                    actions += self._submit(name)
        if not any(self._running(n) for n in self.order):
            return actions + self._finish()  # nothing running and nothing more can start
        return actions + [UpdateParent(files=self._files())]

    def _ready(self, name: str) -> bool:
        state = self.states[name]
        return (not state.get("submitted") and state["status"] == _NOT_STARTED
                and all(self.states[u]["status"] == _COMPLETED for u in self.steps[name].upstream()
                        if u in self.states))

    def _running(self, name: str) -> bool:
        state = self.states[name]
        return bool(state.get("submitted")) and not RunStatus(state["status"]).is_terminal()

    def _submit(self, name: str) -> list[Action]:
        node = self.steps[name]
        state = self.states[name]
        try:
            request = self._request(node)
        except _StepError as exc:  # an upstream output went missing: the step fails without a run
            state.update(status=_FAILED, error={"code": "StepInputMissing", "message": str(exc)})
            if not self.continue_on_step_failure:
                self.stopping = True
            return []
        state.update(submitted=True, status=RunStatus.QUEUED.value, key=request.reuse_key,
                     components=request.reuse_components, forced=request.properties.get(FORCED_PROPERTY))
        return [SubmitChild(request)]

    def _request(self, node: StepNode) -> ChildRequest:
        components = dict(node.components)
        inputs = dict(node.spec.get("inputs") or {})
        for input_name, binding in sorted(node.bindings.items()):
            producer = self.states[binding.step]
            entry = _find_output(producer.get("outputs") or [], binding.output)
            if entry is None:
                raise _StepError(f"step {node.name}: upstream step {binding.step} completed without reporting "
                                 f"its output {binding.output!r}, which input {input_name!r} reads")
            details = entry.get("outputDetails") or {}
            location = ({"datastore": details["datastore"], "path": details.get("path", "")}
                        if details.get("datastore") else {"url": details.get("url")})
            item = dict(inputs.get(input_name) or {"mode": "mount"})
            item["dataset"] = {"type": "file", "paths": [location]}
            inputs[input_name] = item
            fingerprint = details.get("fingerprint") or (entry.get("dataset") or {}).get("fingerprint")
            origin = producer.get("reused_from") or self.run_id(binding.step)
            components[f"input.{input_name}"] = upstream_component(binding.step, binding.output, fingerprint, origin)
        values = {p: self.parameters[p] for p in node.parameters}
        for p, value in sorted(values.items()):
            components[f"param.{p}"] = parameter_component(value)
        spec = fill_parameters({**node.spec, "inputs": inputs}, values, node.spec_parameters)
        key = reuse_key(components)
        forced = self._forced_reason(node)
        properties = {STEP_PROPERTY: node.name, KEY_PROPERTY: key, "azureml.pipeline.runid": self.pipeline_run_id}
        if forced:
            properties[FORCED_PROPERTY] = forced
        run_id = self.run_id(node.name)
        sweep: dict[str, Any] = {}
        if node.sweep:  # a HyperDriveStep: the child is a sweep of this spec, driven by its own controller
            properties.update(node.sweep.get("properties") or {})
            sweep = {"controller": node.sweep["controller"], "kind": node.sweep["kind"], "controller_state": {
                **node.sweep["state"], "parent_run_id": run_id, "base_spec": spec, "snapshot_id": node.snapshot_id}}
        return ChildRequest(run_id=run_id, spec=spec, snapshot_id=node.snapshot_id,
                            tags={"azureml.pipeline.step": node.name}, properties=properties, reuse_key=key,
                            reuse_components=components, allow_reuse=node.allow_reuse and not forced,
                            display_name=node.name, **sweep)

    def _forced_reason(self, node: StepNode) -> str | None:
        if not node.allow_reuse:
            return "allow_reuse=False"
        if self.regenerate_outputs:
            return "regenerate_outputs"
        if node.name in self.rerun:
            return "--rerun"
        if node.name in self._forced:
            return "--rerun of an upstream step"
        return None

    def _finish(self) -> list[Action]:
        if self.finished:
            return []
        self.finished = True
        failed = [n for n in self.order if self.states[n]["status"] == _FAILED]
        canceled = [n for n in self.order if self.states[n]["status"] == _CANCELED]
        not_run = [n for n in self.order if self.states[n]["status"] == _NOT_STARTED]
        files = UpdateParent(files=self._files(graph=True))
        if failed:
            first = failed[0]
            error = self.states[first].get("error") or {}
            code = error.get("exit_code")
            message = (f"step {first} failed" + (f" (exit code {code})" if code is not None else "")
                       + (f": {error['message']}" if error.get("message") else ""))
            if len(failed) > 1:
                message += f"; also failed: {', '.join(failed[1:])}"
            if not_run:
                message += f"; not started: {', '.join(not_run)}"
            return [files, FinishParent(_FAILED, {"code": "StepFailed", "message": message, "step": first,
                                                   "run_id": self.run_id(first), "exit_code": code,
                                                   "failed_steps": failed})]
        if self.canceled or canceled:
            message = "pipeline canceled" if self.canceled else f"step(s) canceled: {', '.join(canceled)}"
            return [files, FinishParent(_CANCELED, {"code": "PipelineCanceled", "message": message})]
        if not_run:
            return [files, FinishParent(_FAILED, {"code": "StepsNotRun",
                                                   "message": f"steps never ran: {', '.join(not_run)}"})]
        return [files, FinishParent(_COMPLETED)]

    # -- what the parent records ------------------------------------------------------------------

    def summary(self) -> list[dict[str, Any]]:
        """One entry per step, in order: status, run id, reuse facts, and why a step did not start."""
        out = []
        for name in self.order:
            state = self.states[name]
            entry: dict[str, Any] = {"name": name, "status": state["status"], "upstream": self.steps[name].upstream(),
                                     "inputs": {k: f"{b.step}.{b.output}" for k, b in self.steps[name].bindings.items()}}
            if state.get("submitted"):
                entry.update(run_id=self.run_id(name), reuse_key=state.get("key"),
                             reuse_components=state.get("components"), reused_from=state.get("reused_from"),
                             forced=state.get("forced"), allow_reuse=self.steps[name].allow_reuse)
            elif state["status"] == _NOT_STARTED and self.finished:
                blocked = [u for u in self.steps[name].upstream() if self.states[u]["status"] != _COMPLETED]
                entry["skipped"] = (f"upstream step {', '.join(blocked)} did not complete" if blocked
                                    else "the pipeline was canceled or stopped first")
            if state.get("error"):
                entry["error"] = state["error"]
            out.append(entry)
        return out

    def _files(self, graph: bool = False) -> dict[str, str]:
        files = {STEPS_FILE: json.dumps({"pipeline_run_id": self.pipeline_run_id, "parameters": self.parameters,
                                         "steps": self.summary()}, indent=2, default=str)}
        if graph:
            files.update(render_pipeline(self.summary(), title=self.description))
        return files

    def _step_of(self, run_id: str) -> str | None:
        prefix = self.pipeline_run_id + "_"
        name = run_id[len(prefix):] if run_id.startswith(prefix) else None
        return name if name in self.steps else None

    # -- persistence --------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        if self._steps_json is None:
            self._steps_json = [self.steps[n].to_json() for n in self.steps]
        return {"pipeline_run_id": self.pipeline_run_id, "steps": self._steps_json,
                "parameters": self.parameters, "continue_on_step_failure": self.continue_on_step_failure,
                "regenerate_outputs": self.regenerate_outputs, "rerun": self.rerun,
                "max_concurrent_children": self.max_concurrent_children, "description": self.description,
                "states": self.states, "started": self.started, "canceled": self.canceled,
                "stopping": self.stopping, "finished": self.finished}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PipelineController:
        return cls(state["pipeline_run_id"], [StepNode.from_json(s) for s in state["steps"]],
                   state.get("parameters"), continue_on_step_failure=state.get("continue_on_step_failure", False),
                   regenerate_outputs=state.get("regenerate_outputs", False), rerun=state.get("rerun") or (),
                   max_concurrent_children=state.get("max_concurrent_children"),
                   description=state.get("description"), states=state.get("states"),
                   started=state.get("started", False), canceled=state.get("canceled", False),
                   stopping=state.get("stopping", False), finished=state.get("finished", False))


class _StepError(Exception):
    pass


def _find_output(entries: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for entry in entries:
        if (entry.get("outputDetails") or {}).get("outputName") == name:
            return entry
    return None
