"""``Pipeline``: steps in a graph, validated and planned into :class:`StepNode` s.

Planning reads every step once (``PipelineStep._lower``) into the ``ScriptRunConfig`` a
standalone run would submit, prepares it with the same ``prepare_job`` (so a step's JobSpec
is the standalone run's), wires each consumed output to the step that produces it, and
orders the steps by those data dependencies plus ``run_after``/``StepSequence``. Every
problem — duplicate names, cycles, missing scripts, inputs no step produces, unbound data in
arguments, unknown parameters — is reported at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from scriptrun.config.prepare import prepare_job
from scriptrun.errors import ConfigError, Problem
from scriptrun.pipeline.graph import Binding, StepNode, find_cycle, parameters_used
from scriptrun.pipeline.pipeline_data import PipelineData
from scriptrun.pipeline.pipeline_run import submit_pipeline
from scriptrun.pipeline.pipeline_yaml import pipeline_from_yaml, pipeline_to_yaml
from scriptrun.pipeline.published import publish
from scriptrun.pipeline.step import Lowered, PipelineStep, StepSequence, _prefixed
from scriptrun.runs.experiment import Experiment, register_submit_function
from scriptrun.runs.submit import plan_job
from scriptrun.spec.checks import raise_problems
from scriptrun.spec.problems import did_you_mean
from scriptrun.spec.reuse import static_components
from scriptrun.workspace import Workspace

EMPTY_DATASET = {"type": "file", "paths": []}


class Pipeline:
    """A graph of steps in ``workspace``; submit it with ``experiment.submit(pipeline)``."""

    def __init__(self, workspace: Workspace, steps: Any, description: str | None = None,
                 default_datastore: Any = None, default_source_directory: str | os.PathLike[str] | None = None,
                 resolve_closure: bool = True, **kwargs: Any):
        unknown = [k for k in kwargs if k != "enable_email_notification"]
        problems = []
        if unknown:
            problems.append(Problem("Pipeline", f"parameter(s) not recognized: {', '.join(sorted(unknown))}"))
        if not isinstance(workspace, Workspace):
            problems.append(Problem("Pipeline.workspace", f"expected a Workspace, got {type(workspace).__name__}",
                                    hint="Workspace.from_config() or Workspace.resolve()"))
        self._sequence_pairs: list[tuple[PipelineStep, PipelineStep]] = []
        flat: list[PipelineStep] = []
        items = [steps] if isinstance(steps, StepSequence) else steps
        if not isinstance(items, (list, tuple)):
            problems.append(Problem("Pipeline.steps", f"expected a list of steps or a StepSequence, got "
                                    f"{type(steps).__name__}"))
            items = []
        for i, item in enumerate(items):
            if isinstance(item, StepSequence):
                flat += item.steps
                self._sequence_pairs += item.ordering()
            elif isinstance(item, PipelineStep):
                flat.append(item)
            else:
                problems.append(Problem(f"Pipeline.steps[{i}]", f"expected a pipeline step, got {item!r}",
                                        hint="PythonScriptStep(name=..., script_run_config=src) or CommandStep(...)"))
        if not flat and not problems:
            problems.append(Problem("Pipeline.steps", "a pipeline needs at least one step"))
        if problems:
            raise ConfigError(problems)
        self.workspace = workspace
        self.description = description
        self.default_datastore = default_datastore
        self.default_source_directory = (os.fspath(default_source_directory)
                                         if default_source_directory is not None else None)
        self.resolve_closure = resolve_closure
        self._steps = flat
        self._parameters: dict[str, Any] = {}  # declared parameters (YAML `inputs:`), name -> default
        self._yaml_file: str | None = None

    @property
    def steps(self) -> list[PipelineStep]:
        return list(self._collect())

    # -- planning ---------------------------------------------------------------------------------

    def _collect(self) -> list[PipelineStep]:
        """The steps, plus (``resolve_closure``) the producers and run_after targets they reach."""
        steps = list(self._steps)
        if not self.resolve_closure:
            return steps
        i = 0
        while i < len(steps):
            step = steps[i]
            reached = list(step._run_after)
            src = getattr(step, "script_run_config", None)
            carried = [*(src.arguments or []), *(src.inputs or [])] if src is not None else []
            for item in [*step.inputs, *getattr(step, "arguments", []), *carried]:
                producer = getattr(item, "producer", item)
                if isinstance(producer, PipelineData) or hasattr(producer, "_producer_step"):
                    reached.append(getattr(producer, "_producer_step", None))
            for s in reached:
                if isinstance(s, PipelineStep) and all(s is not t for t in steps):
                    steps.append(s)
            i += 1
        return steps

    def _plan(self, *, snapshot: bool) -> tuple[list[StepNode], dict[str, Any]]:
        """Every step planned (snapshots taken only when ``snapshot``) and the parameters'
        defaults; raises one ConfigError listing every problem."""
        steps = self._collect()
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        for i, step in enumerate(steps):
            if step.name in seen:
                problems.append(Problem(f"steps[{i}].name", f"two steps are named {step.name!r}",
                                        hint="give each step its own name=..."))
            seen.setdefault(step.name, i)
        lowered = [step._lower(self.default_source_directory) for step in steps]
        for low in lowered:
            problems += low.problems
        bindings = _bindings(steps, lowered, problems)
        after = {s.name: {t.name for t in s._run_after} for s in steps}
        for step, before in self._sequence_pairs:
            after[step.name].add(before.name)
        edges = {s.name: {b.step for b in bindings[s.name].values()} | after[s.name] for s in steps}
        cycle = find_cycle(edges)
        if cycle:
            problems.append(Problem("steps", "the steps form a cycle: " + " → ".join(cycle),
                                    hint="remove a run_after or a data dependency so that the steps can be ordered"))
        defaults = dict(self._parameters)
        for low in lowered:
            for param in low.parameters:
                if param.name in defaults and defaults[param.name] != param.default_value:
                    problems.append(Problem(f"parameters.{param.name}", f"two parameters are named "
                                            f"{param.name!r} with different defaults ({defaults[param.name]!r}, "
                                            f"{param.default_value!r})", hint="use one PipelineParameter object"))
                defaults.setdefault(param.name, param.default_value)
        nodes = []
        for step, low in zip(steps, lowered, strict=True):
            if low.src is None:
                continue
            try:
                spec = prepare_job(low.src, self.workspace)
            except ConfigError as exc:
                problems += [_prefixed(p, f"steps.{step.name}") for p in exc.problems]
                continue
            data = spec.model_dump(mode="json")
            for name in bindings[step.name]:
                data["inputs"][name] = {**data["inputs"][name], "dataset": dict(EMPTY_DATASET)}
            used = sorted(set(parameters_used(data)) | set(low.spec_parameters.values()))
            for name in used:
                if name not in defaults:
                    problems.append(Problem(f"steps.{step.name}", f"uses pipeline parameter {name!r}, which is not "
                                            "defined", hint=did_you_mean(name, list(defaults)) or
                                            "pass the PipelineParameter object itself in the step (arguments or "
                                            "params), or declare it in the pipeline YAML's `inputs:`"))
            snapshot_id, files = "", None
            if snapshot:
                snapshot_id, files = _snapshot(spec, self.workspace)
            components = static_components(step.name, data, snapshot_id, files, step.version,
                                           bound_inputs=tuple(bindings[step.name]))
            sweep = step._sweep(sorted(data.get("outputs") or {}))
            if sweep is not None:
                components["sweep"] = sweep.pop("component")
            nodes.append(StepNode(step.name, data, snapshot_id, components, step.allow_reuse, bindings[step.name],
                                  tuple(sorted(after[step.name])), tuple(used), dict(low.spec_parameters), sweep))
        if problems:
            raise_problems(problems, file=self._yaml_file)
        return nodes, {k: v for k, v in defaults.items()}

    def validate(self) -> list[str]:
        """Every problem of the pipeline, one string each (empty: it can be submitted)."""
        try:
            self._plan(snapshot=False)
        except ConfigError as exc:
            return [p.render() for p in exc.problems]
        return []

    # -- submission, publishing, YAML --------------------------------------------------------

    def submit(self, experiment_name: str, pipeline_parameters: dict[str, Any] | None = None,
               continue_on_step_failure: bool = False, regenerate_outputs: bool = False,
               rerun: Iterable[str] | None = None, **kwargs: Any) -> Any:
        """``Experiment(workspace, experiment_name).submit(self, ...)``: returns a ``PipelineRun``."""
        return Experiment(self.workspace, experiment_name).submit(
            self, pipeline_parameters=pipeline_parameters, continue_on_step_failure=continue_on_step_failure,
            regenerate_outputs=regenerate_outputs, rerun=rerun, **kwargs)

    def publish(self, name: str, description: str | None = None, version: str | None = None,
                continue_on_step_failure: bool | None = None) -> Any:
        """Register this pipeline in the workspace as ``name``; returns a ``PublishedPipeline``."""
        return publish(self, name, description=description, version=version,
                       continue_on_step_failure=continue_on_step_failure)

    @classmethod
    def from_yaml(cls, workspace: Workspace, file: str | os.PathLike[str]) -> Pipeline:
        """Load a pipeline YAML (``description``, ``inputs``, ``jobs``; see ``pipeline_yaml``)."""
        return pipeline_from_yaml(workspace, file)

    def to_yaml(self, file: str | os.PathLike[str] | None = None) -> str:
        """The pipeline as YAML (written to ``file`` when given, paths relative to it)."""
        return pipeline_to_yaml(self, file)

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self._steps]!r}, description={self.description!r})"


def _bindings(steps: list[PipelineStep], lowered: list[Lowered], problems: list[Problem]) -> dict[str, dict[str, Binding]]:
    """Input name -> producing step's output, per step; a consumed output no step produces is a problem."""
    by_id: dict[int, tuple[str, str]] = {}
    by_name: dict[str, list[tuple[str, str]]] = {}
    for step, low in zip(steps, lowered, strict=True):
        for obj, output in low.produced:
            by_id[id(obj)] = (step.name, output)
            if isinstance(obj, PipelineData):
                by_id[id(obj._output())] = (step.name, output)
            by_name.setdefault(output, [])
            if (step.name, output) not in by_name[output]:
                by_name[output].append((step.name, output))
    out: dict[str, dict[str, Binding]] = {}
    for step, low in zip(steps, lowered, strict=True):
        out[step.name] = {}
        for input_name, producer in low.consumed.items():
            hit = by_id.get(id(producer))
            label = getattr(producer, "output_name", None) or getattr(producer, "name", "?")
            if hit is None and len(by_name.get(label, [])) == 1:
                hit = by_name[label][0]
            where = f"steps.{step.name}.inputs.{input_name}"
            if hit is None:
                many = by_name.get(label, [])
                problems.append(Problem(where, f"reads {type(producer).__name__} {label!r}, which "
                                        + (f"several steps produce ({', '.join(s for s, _ in many)})" if many
                                           else "no step of this pipeline produces"),
                                        hint="add the producing step to the pipeline and list the data in its "
                                             "outputs=[...] (or arguments)"))
                continue
            if hit[0] == step.name:
                problems.append(Problem(where, f"step {step.name!r} reads its own output {hit[1]!r}",
                                        hint="a step's output feeds later steps only"))
                continue
            out[step.name][input_name] = Binding(*hit)
    return out


def _snapshot(spec: Any, workspace: Workspace) -> tuple[str, dict[str, str]]:
    """The step's snapshot id (through the one planning path) and its files' hashes."""
    plan = plan_job(spec, workspace)
    return plan.snapshot_id, plan.source_files


def _submit(pipeline: Pipeline, workspace: Workspace, experiment_name: str, *, tags: dict[str, str] | None = None,
            **kwargs: Any) -> Any:
    return submit_pipeline(pipeline, workspace, experiment_name, tags=tags, **kwargs)


register_submit_function(Pipeline, _submit)
