"""A small stand-in for the agent's controller host, for the pure HyperDrive tests.

It carries out a real :class:`SweepController`'s actions the way the host contract says:
children start when submitted (up to ``max_concurrent_children``), each running child logs the
primary metric once per step (values from an objective of its hyperparameters), completes after
``intervals`` values, and a CancelChild ends it ``Canceled``. Optionally it "crashes" every few
steps: the controller is rebuilt from its JSON state and every event is delivered again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scriptrun.agent.controllers import (
    CancelChild,
    ChildInfo,
    ChildRequest,
    FinishParent,
    SubmitChild,
    UpdateParent,
)
from scriptrun.hyperdrive.controller import SweepController

Objective = Callable[[dict[str, Any], int], "float | None"]


@dataclass
class Child:
    request: ChildRequest
    status: str = "Queued"
    values: list[float] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    cancel_reason: str | None = None


class SweepHost:
    def __init__(self, controller: SweepController, objective: Objective, *, intervals: int = 1,
                 metric: str | None = None, extra_metrics: tuple[str, ...] = (), fail: Callable[[dict], bool] = None,
                 crash_every: int | None = None):
        self.controller = controller
        self.objective = objective
        self.intervals = intervals
        self.metric = metric or controller.primary_metric_name
        self.extra_metrics = extra_metrics
        self.fail = fail or (lambda hp: False)
        self.crash_every = crash_every
        self.children: dict[str, Child] = {}
        self.order: list[str] = []
        self.finish: FinishParent | None = None
        self.updates: list[UpdateParent] = []
        self.clock = 1_000
        self.steps = 0
        self.max_running = 0
        self.crashes = 0

    # -- carrying out actions ---------------------------------------------------------------

    def apply(self, actions: list[Any]) -> None:
        for action in actions:
            if isinstance(action, SubmitChild):
                req = action.request
                if req.run_id in self.children:  # idempotent: never a different request for an id
                    assert self.children[req.run_id].request == req, f"different request for {req.run_id}"
                    continue
                self.children[req.run_id] = Child(req)
                self.order.append(req.run_id)
            elif isinstance(action, CancelChild):
                child = self.children[action.run_id]
                if child.status not in ("Completed", "Failed", "Canceled"):
                    child.status = "Canceled"
                    child.cancel_reason = action.reason
                    self.apply(self.controller.on_child_status(ChildInfo(action.run_id, "Canceled")))
            elif isinstance(action, FinishParent):
                assert self.finish is None or self.finish == action
                self.finish = action
            elif isinstance(action, UpdateParent):
                self.updates.append(action)

    def _start_queued(self) -> None:
        cap = self.controller.max_concurrent_children or 10**9
        for run_id in self.order:
            running = sum(c.status == "Running" for c in self.children.values())
            child = self.children[run_id]
            if child.status == "Queued" and running < cap:
                child.status = "Running"
                self.apply(self.controller.on_child_status(ChildInfo(run_id, "Running")))
        self.max_running = max(self.max_running, sum(c.status == "Running" for c in self.children.values()))

    def _crash(self) -> None:
        """Rebuild the controller from its persisted state and re-deliver every event."""
        self.crashes += 1
        state = json.loads(json.dumps(self.controller.to_state()))
        self.controller = SweepController.from_state(state)
        self.apply(self.controller.start())
        for run_id in self.order:
            child = self.children[run_id]
            self.apply(self.controller.on_metrics(run_id, child.records))
            self.apply(self.controller.on_child_status(ChildInfo(run_id, child.status)))

    # -- the loop ---------------------------------------------------------------------------

    def run(self, max_steps: int = 10_000) -> FinishParent:
        self.apply(self.controller.start())
        while self.finish is None:
            self.steps += 1
            assert self.steps < max_steps, "the sweep did not finish"
            self._start_queued()
            for run_id in list(self.order):
                child = self.children[run_id]
                if child.status != "Running":
                    continue
                hp = json.loads(child.request.properties["hyperparameters"])
                if self.fail(hp):
                    child.status = "Failed"
                    self.apply(self.controller.on_child_status(
                        ChildInfo(run_id, "Failed", error={"message": "boom"})))
                    continue
                k = len(child.values) + 1
                value = self.objective(hp, k)
                self.clock += 1
                batch = [{"k": "m", "n": name, "v": 0.5, "s": k, "t": self.clock} for name in self.extra_metrics]
                if value is not None:
                    child.values.append(value)
                    batch.append({"k": "m", "n": self.metric, "v": value, "s": k, "t": self.clock})
                else:
                    child.values.append(float("nan"))
                child.records += batch
                self.apply(self.controller.on_metrics(run_id, batch))
                if child.status == "Running" and len(child.values) >= self.intervals:
                    child.status = "Completed"
                    self.apply(self.controller.on_child_status(ChildInfo(run_id, "Completed")))
            self.apply(self.controller.on_tick(float(self.steps)))
            if self.crash_every and self.steps % self.crash_every == 0:
                self._crash()
        return self.finish

    # -- what happened ------------------------------------------------------------------------

    def hyperparameters(self) -> list[dict[str, Any]]:
        return [json.loads(self.children[r].request.properties["hyperparameters"]) for r in self.order]

    def best_value(self, goal: str) -> float:
        values = [v for c in self.children.values() for v in c.values if v == v]
        return max(values) if goal == "maximize" else min(values)

    def summary(self) -> dict[str, Any]:
        files = [u.files["sweep_summary.json"] for u in self.updates if "sweep_summary.json" in u.files]
        assert len(files) == 1
        return json.loads(files[0])


BASE_SPEC = {"schema_version": 1, "source_directory": "/src", "script": "train.py", "arguments": ["--epochs", "3"],
             "environment_variables": {"A": "1"}}


def make_controller(sampling: Any, *, goal: str = "maximize", metric: str = "accuracy", policy: Any = None,
                    total: int = 10, concurrent: int = 2, seed: int = 7, duration: float = 10080,
                    history: list[dict[str, Any]] | None = None, base: dict[str, Any] | None = None,
                    resume_trials: list[dict[str, Any]] | None = None) -> SweepController:
    return SweepController(parent_run_id="HD_test", base_spec=base or BASE_SPEC, snapshot_id="snap1",
                           sampling=sampling.to_json(), primary_metric_name=metric, primary_metric_goal=goal,
                           policy=policy.to_json() if policy is not None else None, max_total_runs=total,
                           max_concurrent_runs=concurrent, max_duration_minutes=duration, seed=seed,
                           history=history, resume_trials=resume_trials, started_at=0.0)
