"""PipelineController driven by a small loop that plays the agent's controller host: ordering,
concurrency, failure/continue/cancel, reuse and its invalidation (with ``explain_reuse``),
recovery from persisted state, and the SVG picture."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from scriptrun.agent.controllers import (
    CancelChild,
    ChildInfo,
    ChildRequest,
    FinishParent,
    SubmitChild,
    UpdateParent,
    action_from_json,
    action_to_json,
)
from scriptrun.pipeline.controller import STEPS_FILE, PipelineController
from scriptrun.pipeline.graph import Binding, StepNode
from scriptrun.pipeline.graph_svg import render_pipeline
from scriptrun.spec.reuse import explain_reuse, static_components


class Host:
    """Plays the controller host: carries out actions, reuses by key across pipeline runs
    (``store``), and lets the test end children. Actions go through their JSON form, as the
    real host persists them."""

    def __init__(self, store: dict[str, tuple[str, list[dict[str, Any]]]] | None = None,
                 content: dict[str, str] | None = None):
        self.store = store if store is not None else {}  # reuse key -> (run id, outputs)
        self.content = content if content is not None else {}  # step name -> output fingerprint
        self.requests: dict[str, ChildRequest] = {}
        self.running: list[str] = []
        self.canceled: list[str] = []
        self.reused: dict[str, str] = {}
        self.finished: FinishParent | None = None
        self.files: dict[str, str] = {}
        self.controller: PipelineController | None = None

    def run(self, controller: PipelineController) -> Host:
        self.controller = controller
        self.apply(controller.start())
        return self

    def apply(self, actions: list[Any]) -> None:
        pending = []
        for action in [action_from_json(action_to_json(a)) for a in actions]:
            if isinstance(action, SubmitChild):
                request = action.request
                assert request.run_id not in self.requests, f"submitted twice: {request.run_id}"
                self.requests[request.run_id] = request
                hit = self.store.get(request.reuse_key) if request.allow_reuse else None
                if hit:
                    self.reused[request.run_id] = hit[0]
                    pending.append(ChildInfo(request.run_id, "Completed", output_datasets=hit[1], reused_from=hit[0]))
                else:
                    self.running.append(request.run_id)
            elif isinstance(action, CancelChild):
                self.canceled.append(action.run_id)
            elif isinstance(action, FinishParent):
                assert self.finished is None, "finished twice"
                self.finished = action
            elif isinstance(action, UpdateParent):
                self.files.update(action.files)
        for info in pending:
            self.apply(self.controller.on_child_status(info))

    def end(self, step: str, status: str = "Completed", exit_code: int | None = None) -> None:
        run_id = f"{self.controller.pipeline_run_id}_{step}"
        assert run_id in self.running, f"{step} is not running: {self.running}"
        self.running.remove(run_id)
        request = self.requests[run_id]
        outputs = [{"outputDetails": {"outputName": name, "datastore": "workspaceblobstore",
                                      "path": f"dataset/{run_id}/{name}", "url": f"file:///store/{run_id}/{name}",
                                      "fingerprint": self.content.get(step) or _fp(run_id + name)},
                    "dataset": None} for name in request.spec.get("outputs") or {}]
        error = {"code": "UserError", "message": "boom", "exit_code": exit_code} if status == "Failed" else None
        if status == "Completed":
            self.store[request.reuse_key] = (run_id, outputs)
        self.apply(self.controller.on_child_status(ChildInfo(run_id, status, error=error, output_datasets=outputs)))

    def steps_file(self) -> dict[str, Any]:
        return {s["name"]: s for s in json.loads(self.files[STEPS_FILE])["steps"]}

    def submitted(self) -> list[str]:
        prefix = self.controller.pipeline_run_id + "_"
        return [r[len(prefix):] for r in self.requests]


def _fp(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def node(name: str, *, reads: dict[str, str] | None = None, writes: tuple[str, ...] = (), args: list[Any] = (),
         after: tuple[str, ...] = (), source: str = "v1", env: list[str] = (), allow_reuse: bool = True,
         parameters: tuple[str, ...] = (), version: str | None = None) -> StepNode:
    """A step whose spec reads upstream outputs (``{input: "step.output"}``) and writes outputs."""
    reads = reads or {}
    spec = {"source_directory": "/src", "script": f"{name}.py", "arguments": list(args),
            "environment": {"python": {"conda_dependencies": {"pip_packages": list(env)}}},
            "inputs": {i: {"dataset": {"type": "file", "paths": []}, "mode": "mount"} for i in reads},
            "outputs": {o: {"mode": "mount"} for o in writes}}
    files = {f"{name}.py": _fp(name + source)}
    bindings = {i: Binding(*src.split(".")) for i, src in reads.items()}
    components = static_components(name, spec, _fp(source + name), files, version, bound_inputs=tuple(reads))
    return StepNode(name, spec, _fp(source + name), components, allow_reuse, bindings, after, parameters)


def diamond(**changes: dict[str, Any]) -> list[StepNode]:
    """prep -> (train, eval) ; train -> report."""
    spec = {"prep": dict(writes=("prepped",)),
            "train": dict(reads={"data": "prep.prepped"}, writes=("model",), args=["--lr", "${{parent.inputs.lr}}"],
                          parameters=("lr",)),
            "evaluate": dict(reads={"data": "prep.prepped"}),
            "report": dict(reads={"model": "train.model"})}
    for name, change in changes.items():
        spec[name] = {**spec[name], **change}
    return [node(name, **kw) for name, kw in spec.items()]


def test_steps_start_in_dependency_order_and_independent_steps_run_together():
    host = Host().run(PipelineController("p1", diamond(), {"lr": 0.1}))
    assert host.submitted() == ["prep"]
    host.end("prep")
    assert sorted(host.running) == ["p1_evaluate", "p1_train"]  # both at once; the host applies the cap
    request = host.requests["p1_train"]
    assert request.spec["arguments"] == ["--lr", 0.1]
    assert request.spec["inputs"]["data"]["dataset"] == {"type": "file", "paths": [
        {"datastore": "workspaceblobstore", "path": "dataset/p1_prep/prepped"}]}
    host.end("evaluate")
    host.end("train")
    assert host.submitted() == ["prep", "train", "evaluate", "report"]
    host.end("report")
    assert host.finished == FinishParent("Completed")
    assert "pipeline_graph.svg" in host.files
    assert {s["status"] for s in host.steps_file().values()} == {"Completed"}


def test_run_after_orders_steps_without_data():
    steps = [node("a"), node("b", after=("a",))]
    host = Host().run(PipelineController("p", steps))
    assert host.submitted() == ["a"]
    host.end("a")
    assert host.submitted() == ["a", "b"]


def test_a_failed_step_fails_the_pipeline_naming_it_and_its_downstream_never_starts():
    host = Host().run(PipelineController("p1", diamond(), {"lr": 0.1}))
    host.end("prep")
    host.end("train", "Failed", exit_code=3)
    assert host.canceled == ["p1_evaluate"]  # the running sibling is stopped
    assert host.finished is None  # ...and the pipeline ends only once it has
    host.end("evaluate", "Canceled")
    assert host.finished.status == "Failed"
    assert "step train failed (exit code 3)" in host.finished.error["message"]
    assert host.finished.error["step"] == "train" and host.finished.error["exit_code"] == 3
    assert "report" not in host.submitted()
    assert host.steps_file()["report"]["skipped"] == "upstream step train did not complete"


def test_continue_on_step_failure_runs_what_does_not_depend_on_the_failed_step():
    host = Host().run(PipelineController("p1", diamond(), {"lr": 0.1}, continue_on_step_failure=True))
    host.end("prep")
    host.end("train", "Failed", exit_code=1)
    assert host.canceled == [] and host.finished is None
    host.end("evaluate")
    assert host.finished.status == "Failed" and "report" not in host.submitted()


def test_cancel_starts_nothing_new_and_finishes_once_children_ended():
    host = Host().run(PipelineController("p1", diamond(), {"lr": 0.1}))
    host.end("prep")
    host.apply(host.controller.cancel())
    assert host.finished is None
    host.end("train", "Canceled")
    host.end("evaluate", "Canceled")
    assert host.finished.status == "Canceled" and "report" not in host.submitted()


def test_cancel_with_nothing_running_finishes_at_once():
    controller = PipelineController("p", [node("a")])
    host = Host()
    host.controller = controller
    host.apply(controller.cancel())
    assert host.finished.status == "Canceled" and host.requests == {}


def _full_run(run_id: str, steps: list[StepNode], host: Host, **kwargs: Any) -> Host:
    host.run(PipelineController(run_id, steps, kwargs.pop("parameters", {"lr": 0.1}), **kwargs))
    while host.running:
        host.end(host.running[0].removeprefix(run_id + "_"))
    assert host.finished is not None
    return host


def _why(first: Host, second: Host, step: str) -> list[str]:
    a = first.requests[f"{first.controller.pipeline_run_id}_{step}"].reuse_components
    b = second.requests[f"{second.controller.pipeline_run_id}_{step}"].reuse_components
    return explain_reuse(b, a)


def test_an_unchanged_pipeline_is_fully_reused():
    store: dict[str, Any] = {}
    first = _full_run("p1", diamond(), Host(store))
    second = _full_run("p2", diamond(), Host(store))
    assert second.running == [] and set(second.reused) == {"p2_prep", "p2_train", "p2_evaluate", "p2_report"}
    assert second.reused["p2_report"] == "p1_report"
    assert second.finished == FinishParent("Completed")
    assert second.steps_file()["train"]["reused_from"] == "p1_train"
    assert _why(first, second, "train") == []


@pytest.mark.parametrize("change, rerun_steps, reused_steps, expected", [
    ({"train": {"source": "v2"}}, {"train", "report"}, {"prep", "evaluate"},
     {"train": ["source: train.py changed"], "report": ["input model: upstream step train re-ran and its output changed"]}),
    ({"train": {"env": ["numpy"]}}, {"train", "report"}, {"prep", "evaluate"},
     {"train": ["environment: pip package added: numpy"]}),
    ({"prep": {"source": "v2"}}, {"prep", "train", "evaluate", "report"}, set(),
     {"evaluate": ["input data: upstream step prep re-ran and its output changed"]}),
    ({"evaluate": {"args": ["--fast"]}}, {"evaluate"}, {"prep", "train", "report"},
     {"evaluate": ['arguments: [] → ["--fast"]']}),
])
def test_each_change_invalidates_exactly_the_affected_steps_and_says_why(change, rerun_steps, reused_steps, expected):
    store: dict[str, Any] = {}
    first = _full_run("p1", diamond(), Host(store))
    second = _full_run("p2", diamond(**change), Host(store))
    assert {s for s in second.submitted() if f"p2_{s}" not in second.reused} == rerun_steps
    assert {s.removeprefix("p2_") for s in second.reused} == reused_steps
    for step, lines in expected.items():
        assert _why(first, second, step) == lines


def test_a_changed_parameter_reruns_only_the_steps_using_it():
    store: dict[str, Any] = {}
    first = _full_run("p1", diamond(), Host(store))
    second = _full_run("p2", diamond(), Host(store), parameters={"lr": 0.5})
    assert {s.removeprefix("p2_") for s in second.reused} == {"prep", "evaluate"}  # the sibling stays reused
    assert _why(first, second, "train") == ["parameter lr: 0.1 → 0.5"]
    assert second.requests["p2_train"].spec["arguments"] == ["--lr", 0.5]


def test_same_upstream_content_keeps_downstream_reused():
    store: dict[str, Any] = {}
    content = {"prep": "same-bytes"}  # prep never reuses, but writes the same bytes each time
    _full_run("p1", diamond(prep={"allow_reuse": False}), Host(store, content))
    second = _full_run("p2", diamond(prep={"allow_reuse": False}), Host(store, content))
    assert "p2_prep" not in second.reused
    assert {s.removeprefix("p2_") for s in second.reused} == {"train", "evaluate", "report"}


def test_rerun_forces_the_step_and_its_dependants():
    store: dict[str, Any] = {}
    _full_run("p1", diamond(), Host(store))
    second = _full_run("p2", diamond(), Host(store), rerun=["train"])
    assert second.requests["p2_train"].properties["scriptrun.reuse.forced"] == "--rerun"
    assert second.requests["p2_report"].properties["scriptrun.reuse.forced"] == "--rerun of an upstream step"
    assert {s.removeprefix("p2_") for s in second.reused} == {"prep", "evaluate"}


def test_regenerate_outputs_and_allow_reuse_false_disable_reuse_and_are_recorded():
    store: dict[str, Any] = {}
    _full_run("p1", diamond(), Host(store))
    second = _full_run("p2", diamond(), Host(store), regenerate_outputs=True)
    assert second.reused == {}
    assert {r.properties["scriptrun.reuse.forced"] for r in second.requests.values()} == {"regenerate_outputs"}
    third = _full_run("p3", diamond(evaluate={"allow_reuse": False}), Host(store))
    assert set(third.reused) == {"p3_prep", "p3_train", "p3_report"}
    assert third.steps_file()["evaluate"]["forced"] == "allow_reuse=False"


def test_recovery_from_persisted_state_does_not_rerun_finished_steps():
    host = Host().run(PipelineController("p1", diamond(), {"lr": 0.1}))
    host.end("prep")
    state = json.loads(json.dumps(host.controller.to_state()))  # what the host persisted
    rebuilt = PipelineController.from_state(state)
    host.controller = rebuilt
    # the host re-delivers every child's status: repeats are ignored, nothing is resubmitted
    host.apply(rebuilt.on_child_status(ChildInfo("p1_prep", "Completed", output_datasets=[
        {"outputDetails": {"outputName": "prepped", "datastore": "workspaceblobstore", "path": "x"}}])))
    host.apply(rebuilt.on_child_status(ChildInfo("p1_train", "Running")))
    assert host.submitted() == ["prep", "train", "evaluate"]
    host.end("train")
    host.end("evaluate")
    host.end("report")
    assert host.finished == FinishParent("Completed")
    assert rebuilt.start() == []  # a second start does nothing


def test_explain_reuse_messages():
    before = {"source": "a", "source/train.py": "1", "source/util.py": "2", "param.lr": "0.1",
              "environment": "e1", "environment.pip_packages": '["numpy"]', "spec.node_count": "1"}
    after = {"source": "b", "source/train.py": "9", "source/new.py": "3", "param.lr": "0.5",
             "environment": "e2", "environment.pip_packages": '["numpy", "torch"]', "spec.node_count": "2"}
    assert explain_reuse(after, before) == [
        "source: train.py changed", "source: new.py added", "source: util.py removed", "node_count: 1 → 2",
        "environment: pip package added: torch", "parameter lr: 0.1 → 0.5"]
    assert explain_reuse(after, None) == ["no earlier run of this step"]
    assert explain_reuse(after, dict(after)) == []


def test_the_graph_renders_as_svg_with_statuses_reuse_and_data_labels():
    store: dict[str, Any] = {}
    _full_run("p1", diamond(), Host(store))
    second = _full_run("p2", diamond(evaluate={"source": "v2"}), Host(store))
    svg = second.files["pipeline_graph.svg"]
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "(reused)" in svg and "prepped → data" in svg and "#c8e6c9" in svg  # Completed green
    failed = render_pipeline([{"name": "a", "status": "Failed"}, {"name": "b", "status": "NotStarted",
                                                                    "upstream": ["a"], "skipped": "x"}])
    assert "#ffcdd2" in failed["pipeline_graph.svg"] and "(not started)" in failed["pipeline_graph.svg"]
