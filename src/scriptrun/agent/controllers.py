"""The controller seam: long-lived compositions of runs (pipelines, sweeps, child batches).

A *controller* is pure decision logic. It never submits, stops or waits on anything itself:
the agent's controller host feeds it events and carries out the :data:`Action` objects it
returns. Its whole state is a JSON-able dict (:meth:`Controller.to_state`), persisted in the
parent run's folder with the actions not yet carried out, so a restarted agent rebuilds the
controller (:meth:`Controller.from_state`) and finishes what the dead one started. Every
action is idempotent: a child is submitted under a deterministic run id (a second submit of
the same id is a no-op), canceling or finishing something already ended does nothing.

Events, in the order a host delivers them:

- ``start()`` once, when the parent run starts;
- ``on_child_status(child)`` whenever one of its children changes status (and, after a
  recovery, once more for every child, so a controller must ignore repeats);
- ``on_metrics(run_id, records)`` with each child's new metrics-file records (the kinds of
  :mod:`scriptrun.rundir`), read by the host from the child's metrics file;
- ``on_tick(now)`` about once a second (deadlines);
- ``cancel()`` when the parent is canceled: the host then cancels every unfinished child itself.

Controller classes are found by the dotted path in the parent's state
(``"scriptrun.pipeline.controller:PipelineController"``), so the agent never imports the
packages that define them: compositions sit above the agent and plug into it.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Union, runtime_checkable

from scriptrun.rundir import RunStatus


@dataclass(frozen=True)
class ChildRequest:
    """A child run to create. ``spec`` is a validated JobSpec in JSON form (the client
    prepared it, snapshot included); ``run_id`` is deterministic (``<parent>_<name>``).

    With ``allow_reuse`` and a ``reuse_key``, the host may instead create the child as a
    Completed copy of an earlier Completed run with the same key (step reuse).

    With ``controller`` (a ``module:Class`` path) and its ``controller_state``, the child is
    itself a controlled parent of ``kind`` (a sweep inside a pipeline): the host creates it
    and starts that controller; ``spec`` is then only a record of the job it sweeps."""

    run_id: str
    spec: dict[str, Any]
    snapshot_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    reuse_key: str | None = None
    reuse_components: dict[str, Any] = field(default_factory=dict)
    allow_reuse: bool = False
    display_name: str | None = None
    controller: str | None = None
    controller_state: dict[str, Any] | None = None
    kind: str = "scriptrun.scriptrun"


@dataclass(frozen=True)
class SubmitChild:
    request: ChildRequest
    kind: str = "submit_child"


@dataclass(frozen=True)
class CancelChild:
    """Stop a child (its process tree); ``reason`` lands in its details (e.g. an early-termination policy)."""

    run_id: str
    reason: str = ""
    kind: str = "cancel_child"


@dataclass(frozen=True)
class FinishParent:
    """End the parent with ``status`` (Completed, Failed or Canceled) once every child has ended."""

    status: str
    error: dict[str, Any] | None = None
    kind: str = "finish_parent"


@dataclass(frozen=True)
class UpdateParent:
    """Record something on the parent: tags, properties (add-only), metrics (name → value),
    files (name → text, stored in the parent's folder and as MLflow artifacts), images (name →
    base64 of a PNG, stored the same way) and outputs (output name → the lineage entry of a
    child's output it passes on, or ``{"datastore", "path", "files": {name: text}}`` to write)."""

    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    kind: str = "update_parent"


Action = Union[SubmitChild, CancelChild, FinishParent, UpdateParent]


def action_to_json(action: Action) -> dict[str, Any]:
    return asdict(action)


def action_from_json(data: dict[str, Any]) -> Action:
    kind = data.get("kind")
    body = {k: v for k, v in data.items() if k != "kind"}
    if kind == "submit_child":
        return SubmitChild(ChildRequest(**body["request"]))
    if kind == "cancel_child":
        return CancelChild(**body)
    if kind == "finish_parent":
        return FinishParent(**body)
    if kind == "update_parent":
        return UpdateParent(**body)
    raise ValueError(f"unknown controller action {kind!r}")


@dataclass(frozen=True)
class ChildInfo:
    """What a controller learns about one of its children when its status changes."""

    run_id: str
    status: str
    error: dict[str, Any] | None = None
    properties: dict[str, str] = field(default_factory=dict)
    output_datasets: list[dict[str, Any]] = field(default_factory=list)
    reused_from: str | None = None

    @property
    def is_terminal(self) -> bool:
        return RunStatus(self.status).is_terminal()


@runtime_checkable
class Controller(Protocol):
    """The decision logic of one parent run. Implementations keep everything they need in
    ``to_state()`` and must accept repeated events (see the module docstring)."""

    max_concurrent_children: int | None  # the host's per-parent cap (None: only the global one)

    def start(self) -> list[Action]: ...

    def on_child_status(self, child: ChildInfo) -> list[Action]: ...

    def on_metrics(self, run_id: str, records: list[dict[str, Any]]) -> list[Action]: ...

    def on_tick(self, now: float) -> list[Action]: ...

    def cancel(self) -> list[Action]: ...

    def to_state(self) -> dict[str, Any]: ...

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Controller: ...


def controller_path(cls: type) -> str:
    """The dotted path the host loads ``cls`` by (``module:qualname``)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def load_controller(path: str, state: dict[str, Any]) -> Controller:
    """Rebuild a controller from its class path and persisted state."""
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls.from_state(state)


class BatchController:
    """The built-in controller: run a fixed list of children with a concurrency cap, failing
    fast (the first failed child cancels the others and fails the parent) unless
    ``continue_on_failure``. ``Run.submit_children`` uses it."""

    def __init__(self, children: list[ChildRequest], max_concurrent_children: int | None = None,
                 continue_on_failure: bool = False, ended: dict[str, str] | None = None,
                 finished: bool = False):
        self.children = children
        self.max_concurrent_children = max_concurrent_children
        self.continue_on_failure = continue_on_failure
        self.ended: dict[str, str] = dict(ended or {})
        self.finished = finished

    def start(self) -> list[Action]:
        return [SubmitChild(c) for c in self.children] or self._finish()

    def on_child_status(self, child: ChildInfo) -> list[Action]:
        if not child.is_terminal or child.run_id in self.ended or self.finished:
            return []
        self.ended[child.run_id] = child.status
        actions: list[Action] = []
        if child.status != RunStatus.COMPLETED.value and not self.continue_on_failure:
            actions += [CancelChild(c.run_id, f"child {child.run_id} ended {child.status}")
                        for c in self.children if c.run_id not in self.ended]
        return actions + self._finish()

    def _finish(self) -> list[Action]:
        if len(self.ended) < len(self.children):  # also when failing fast: the canceled ones end first
            return []
        bad = {rid: s for rid, s in self.ended.items() if s != RunStatus.COMPLETED.value}
        self.finished = True
        if not bad:
            return [FinishParent(RunStatus.COMPLETED.value)]
        failed = [rid for rid, s in bad.items() if s == RunStatus.FAILED.value]
        status = RunStatus.FAILED if failed else RunStatus.CANCELED
        return [FinishParent(status.value, {"code": "ChildRunFailed" if failed else "ChildRunCanceled",
                                            "message": f"{len(bad)} of {len(self.children)} child runs did not "
                                                       f"complete: " + ", ".join(f"{r} ({s})" for r, s in bad.items())})]

    def on_metrics(self, run_id: str, records: list[dict[str, Any]]) -> list[Action]:
        return []

    def on_tick(self, now: float) -> list[Action]:
        return []

    def cancel(self) -> list[Action]:
        return []

    def to_state(self) -> dict[str, Any]:
        return {"children": [asdict(c) for c in self.children], "max_concurrent_children": self.max_concurrent_children,
                "continue_on_failure": self.continue_on_failure, "ended": self.ended, "finished": self.finished}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BatchController:
        return cls([ChildRequest(**c) for c in state["children"]], state.get("max_concurrent_children"),
                   state.get("continue_on_failure", False), state.get("ended"), state.get("finished", False))
