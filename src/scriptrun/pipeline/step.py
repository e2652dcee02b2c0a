"""What every pipeline step shares: its ports (``inputs``/``outputs``), ``params``, reuse
settings and explicit ordering (``run_after``, :class:`StepSequence`), and its *lowering*:
the step read once into a ``ScriptRunConfig`` — the very object a standalone run would
submit, plus the step's port bindings and ``AML_PARAMETER_<name>`` variables — and its wiring.

A subclass only says how it builds its ``ScriptRunConfig`` (:meth:`PipelineStep._builder`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from scriptrun.config.data_fields import DATA_TYPES
from scriptrun.config.run_data import inputs_from_run_config_data
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.data.datapath import DataReference
from scriptrun.data.output import OutputConsumptionConfig, OutputFileDatasetConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.pipeline.parameter import PipelineParameter
from scriptrun.pipeline.pipeline_data import PipelineData, PipelineOutputFileDataset

_STEP_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,99}$")
_SCALARS = (str, int, float, bool)
# v1's runconfig_pipeline_params keys -> the spec fields they set
SPEC_PARAMETER_FIELDS = {
    "NodeCount": ("node_count",),
    "MpiProcessCountPerNode": ("distributed_job_config.process_count_per_node",),
    "TensorflowWorkerCount": ("distributed_job_config.worker_count", "node_count"),
    "TensorflowParameterServerCount": ("distributed_job_config.parameter_server_count",),
}
_RC_ATTRIBUTES = {"NodeCount": ("node_count",), "MpiProcessCountPerNode": ("mpi", "process_count_per_node"),
                  "TensorflowWorkerCount": ("tensorflow", "worker_count"),
                  "TensorflowParameterServerCount": ("tensorflow", "parameter_server_count")}
_INPUT_TYPES = "PipelineData (or .as_input()/.as_mount()/.as_download()), output.as_input(), ds.as_named_input()"
_OUTPUT_TYPES = "PipelineData or OutputFileDatasetConfig"


@dataclass
class Lowered:
    """A step read once: its ScriptRunConfig (None when it could not be built), the problems
    found, and its wiring."""

    src: ScriptRunConfig | None
    problems: list[Problem] = field(default_factory=list)
    consumed: dict[str, Any] = field(default_factory=dict)  # input name -> producer object
    produced: list[tuple[Any, str]] = field(default_factory=list)  # (producer object, output name)
    parameters: list[PipelineParameter] = field(default_factory=list)
    spec_parameters: dict[str, str] = field(default_factory=dict)  # spec field path -> parameter name


class PipelineStep:
    """Base of the pipeline steps: ports, params, reuse and ordering."""

    def __init__(self, name: str, *, inputs: list[Any] | None = None, outputs: list[Any] | None = None,
                 params: dict[str, Any] | None = None, allow_reuse: bool = True, version: str | None = None,
                 runconfig_pipeline_params: dict[str, Any] | None = None, problems: list[Problem] | None = None):
        problems = list(problems or [])
        kind = type(self).__name__
        if not isinstance(name, str) or not _STEP_NAME.match(name):
            problems.append(Problem(f"{kind}.name", f"invalid step name {name!r}: it becomes part of the step's "
                                    "run id", hint="use letters, digits, '_', '-' or '.', starting with a letter "
                                                   "or digit (at most 100 characters)"))
        for field_name, value in (("inputs", inputs), ("outputs", outputs)):
            if value is not None and not isinstance(value, (list, tuple)):
                problems.append(Problem(f"{kind}.{field_name}", f"expected a list, got {type(value).__name__}"))
        if params is not None and not isinstance(params, dict):
            problems.append(Problem(f"{kind}.params", f"expected a dict of name -> value, got {type(params).__name__}",
                                    hint="params={'alpha': 0.5}; each becomes the variable AML_PARAMETER_<name>"))
        if not isinstance(allow_reuse, bool):
            problems.append(Problem(f"{kind}.allow_reuse", f"expected True or False, got {allow_reuse!r}"))
        if version is not None and not isinstance(version, str):
            problems.append(Problem(f"{kind}.version", f"expected a str, got {type(version).__name__}"))
        rc_params = runconfig_pipeline_params or {}
        if not isinstance(rc_params, dict):
            problems.append(Problem(f"{kind}.runconfig_pipeline_params", "expected a dict"))
            rc_params = {}
        for key, value in rc_params.items():
            if key not in SPEC_PARAMETER_FIELDS:
                problems.append(Problem(f"{kind}.runconfig_pipeline_params.{key}", "unsupported key",
                                        hint="supported: " + ", ".join(SPEC_PARAMETER_FIELDS)))
            elif not isinstance(value, PipelineParameter):
                problems.append(Problem(f"{kind}.runconfig_pipeline_params.{key}",
                                        f"expected a PipelineParameter, got {value!r}"))
            elif key in (params or {}):
                problems.append(Problem(f"{kind}.runconfig_pipeline_params.{key}", f"{key!r} is also in params",
                                        hint="give it in one place only"))
        if problems:
            raise ConfigError(problems)
        self.name = name
        self.inputs = list(inputs or [])
        self.outputs = list(outputs or [])
        self.params = dict(params or {})
        self.allow_reuse = allow_reuse
        self.version = version
        self.runconfig_pipeline_params = dict(rc_params)
        self._run_after: list[PipelineStep] = []
        src = getattr(self, "script_run_config", None)
        carried = ([*(src.arguments if isinstance(src.arguments, list) else []), *(src.outputs or [])]
                   if isinstance(src, ScriptRunConfig) else [])
        for item in [*self.outputs, *carried]:
            if isinstance(item, (PipelineData, OutputFileDatasetConfig)):
                item._producer_step = self  # lets Pipeline(resolve_closure=True) find producers

    def run_after(self, step: PipelineStep) -> None:
        """Start this step only once ``step`` has completed."""
        if not isinstance(step, PipelineStep):
            raise ConfigError(Problem(f"{self.name}.run_after", f"expected a pipeline step, got {step!r}"))
        if step is self:
            raise ConfigError(Problem(f"{self.name}.run_after", "a step cannot run after itself"))
        if step not in self._run_after:
            self._run_after.append(step)

    def _builder(self, default_source_directory: str | None) -> tuple[ScriptRunConfig, bool]:
        """A fresh ScriptRunConfig for this step (the caller may change it), and whether data
        objects in its arguments must also be listed in the step's inputs/outputs (v1's rule
        for the legacy forms)."""
        raise NotImplementedError

    def _sweep(self, outputs: list[str]) -> dict[str, Any] | None:
        """How a step that runs as a sweep starts it (see ``HyperDriveStep``); None for a job."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- lowering ---------------------------------------------------------------------------------

    def _lower(self, default_source_directory: str | None) -> Lowered:
        """Read the step once (see the module docstring). Problems' paths start with ``steps.<name>``."""
        where = f"steps.{self.name}"
        try:
            src, strict = self._builder(default_source_directory)
        except ConfigError as exc:
            return Lowered(None, [_prefixed(p, where) for p in exc.problems])
        out = Lowered(None)
        src = copy.copy(src)
        rc = copy.copy(src.run_config)
        rc.environment_variables = dict(rc.environment_variables or {})
        src.run_config = rc
        inputs = [self._input(item, i, out) for i, item in enumerate(self.inputs)]
        outputs = [self._output(item, i, out) for i, item in enumerate(self.outputs)]
        declared = {_data_name(o) for o in [*inputs, *outputs] if o is not None}
        declared |= {_data_name(i) for i in inputs_from_run_config_data(getattr(rc, "data", None))[0]}
        for attr in ("arguments", "command"):
            value = getattr(src, attr)
            if isinstance(value, (list, tuple)):
                setattr(src, attr, [self._argument(item, f"{attr}[{i}]", strict, declared, out)
                                    for i, item in enumerate(value)])
        src.inputs = [*(src.inputs or []), *(i for i in inputs if i is not None)] or None
        src.outputs = [*(src.outputs or []), *(o for o in outputs if o is not None)] or None
        for obj in _data_objects(src):
            if isinstance(obj, OutputConsumptionConfig):
                out.consumed[obj.name] = obj.producer
            elif isinstance(obj, OutputFileDatasetConfig) and not any(n == obj.name for _, n in out.produced):
                out.produced.append((obj, obj.name))
        for key, value in self.params.items():
            if not isinstance(value, _SCALARS):
                out.problems.append(Problem(f"params.{key}", f"expected a str, int, float, bool or "
                                            f"PipelineParameter, got {type(value).__name__}"))
                continue
            rc.environment_variables["AML_PARAMETER_" + re.sub(r"\W", "_", str(key))] = _text(value)
        for key, parameter in self.runconfig_pipeline_params.items():
            _set_rc(rc, _RC_ATTRIBUTES[key], parameter.default_value)
            out.spec_parameters.update({path: parameter.name for path in SPEC_PARAMETER_FIELDS[key]})
        values = [*(src.arguments or []), *(src.command if isinstance(src.command, list) else [src.command]),
                  *self.params.values(), *self.runconfig_pipeline_params.values()]
        out.parameters = [v for v in values if isinstance(v, PipelineParameter)]
        out.src = src
        out.problems = [_prefixed(p, where) for p in out.problems]
        return out

    def _input(self, item: Any, i: int, out: Lowered) -> Any:
        if isinstance(item, (PipelineData, PipelineOutputFileDataset)):
            return item.as_mount()
        if isinstance(item, OutputFileDatasetConfig):
            out.problems.append(Problem(f"inputs[{i}]", f"{item!r} is an output",
                                        hint=f"pass it in `outputs` of the step that writes it, and "
                                             f"<output>.as_input({item.name!r}) in `inputs` of the steps that read it"))
            return None
        if isinstance(item, DATA_TYPES):
            return item
        out.problems.append(Problem(f"inputs[{i}]", f"expected a step input, got {item!r}",
                                    hint=f"use {_INPUT_TYPES}"))
        return None

    def _output(self, item: Any, i: int, out: Lowered) -> Any:
        if isinstance(item, PipelineData):
            out.produced.append((item, item.output_name))
            return item._output()
        if isinstance(item, OutputFileDatasetConfig):
            return item
        out.problems.append(Problem(f"outputs[{i}]", f"expected {_OUTPUT_TYPES}, got {item!r}"))
        return None

    def _argument(self, item: Any, where: str, strict: bool, declared: set[str], out: Lowered) -> Any:
        if isinstance(item, PipelineData):
            if any(o is item for o in self.outputs):
                return item._output()
            for bound in self.inputs:
                if bound is item or (isinstance(bound, OutputConsumptionConfig) and bound.producer is item):
                    return item.as_mount() if bound is item else bound
            out.problems.append(Problem(where, f"PipelineData {item.name!r} is in the arguments but in neither "
                                        f"`inputs` nor `outputs` of step {self.name!r}",
                                        hint="add it to outputs=[...] if this step writes it, or to inputs=[...] "
                                             "if it reads it"))
            return str(item)
        if isinstance(item, PipelineOutputFileDataset):
            return self._argument(item.data, where, strict, declared, out)
        if isinstance(item, (*DATA_TYPES, OutputConsumptionConfig)):
            name = _data_name(item)
            if strict and name is not None and name not in declared:
                out.problems.append(Problem(where, f"data object {name!r} is in the arguments but in neither "
                                            f"`inputs` nor `outputs` of step {self.name!r}",
                                            hint="list it in inputs=[...] (data the step reads) or outputs=[...] "
                                                 "(data it writes), as v1 requires"))
            return item
        if not isinstance(item, _SCALARS):
            out.problems.append(Problem(where, f"expected str, int, float, bool, a PipelineParameter or a data "
                                        f"object, got {type(item).__name__} {item!r}"))
        return item


class StepSequence:
    """Steps that run one after another: each element (a step, or a list of steps that may run
    together) starts once the previous element has completed."""

    def __init__(self, steps: Iterable[Any] | None = None):
        self.elements: list[list[PipelineStep]] = []
        for i, element in enumerate(steps or []):
            group = list(element) if isinstance(element, (list, tuple)) else [element]
            bad = [s for s in group if not isinstance(s, PipelineStep)]
            if bad:
                raise ConfigError(Problem(f"StepSequence[{i}]", f"expected a pipeline step, got {bad[0]!r}"))
            self.elements.append(group)

    @property
    def steps(self) -> list[PipelineStep]:
        return [s for group in self.elements for s in group]

    def ordering(self) -> list[tuple[PipelineStep, PipelineStep]]:
        """(step, must run after) pairs."""
        return [(s, before) for prev, group in zip(self.elements, self.elements[1:], strict=False) for s in group for before in prev]


def _data_objects(src: ScriptRunConfig) -> list[Any]:
    items = [*(src.arguments if isinstance(src.arguments, list) else []),
             *(src.command if isinstance(src.command, list) else []), *(src.inputs or []), *(src.outputs or [])]
    return [i for i in items if isinstance(i, (*DATA_TYPES, OutputConsumptionConfig))]


def _data_name(item: Any) -> str | None:
    if isinstance(item, DataReference):
        return item.data_reference_name
    return getattr(item, "name", None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _set_rc(rc: Any, path: tuple[str, ...], value: Any) -> None:
    target = rc
    for part in path[:-1]:  # copy what is changed: the user's configuration objects stay as they were
        child = copy.copy(getattr(target, part))
        setattr(target, part, child)
        target = child
    setattr(target, path[-1], value)


def _prefixed(problem: Problem, where: str) -> Problem:
    path = problem.path if problem.path.startswith(where) else f"{where}.{problem.path}" if problem.path else where
    return Problem(path, problem.message, problem.hint, problem.file, problem.line)
