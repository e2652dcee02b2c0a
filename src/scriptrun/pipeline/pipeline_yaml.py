"""The pipeline YAML, in the shape users know from Azure ML v2 pipeline jobs::

    description: prep then train
    inputs: {lr: 0.1}                        # pipeline parameters and their defaults
    jobs:
      prep:                                  # inline: the job YAML keys of ScriptRunConfig
        source_directory: src
        script: prep.py
        arguments: [--out, "${{outputs.prepped}}"]
        outputs: {prepped: {}}
      train: train.yml                       # or a path to a job YAML
      consume:
        script: consume.py
        arguments: [--inp, "${{inputs.inp}}", --lr, "${{parent.inputs.lr}}"]
        inputs: {inp: "${{parent.jobs.prep.outputs.prepped}}"}

An inline job may also say ``allow_reuse``, ``version`` and ``run_after: [names]``. Every
problem is reported at once with its file, line and a did-you-mean hint, as for job YAML.
The JSON Schema comes from :class:`PipelineYaml`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import Field

from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.data.output import OutputConsumptionConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.pipeline.graph import PARAMETER_PLACEHOLDER
from scriptrun.pipeline.parameter import check_value
from scriptrun.pipeline.python_script_step import PythonScriptStep
from scriptrun.spec.checks import raise_problems
from scriptrun.spec.job import InputSpec, JobSpec, SpecModel
from scriptrun.spec.problems import Loc, _line_of, did_you_mean, format_path, validate_model
from scriptrun.spec.yamlio import job_spec_from_yaml, job_spec_to_yaml_dict, load_yaml_with_lines
from scriptrun.workspace import Workspace

BINDING = re.compile(r"^\$\{\{\s*parent\.jobs\.([\w.-]+)\.outputs\.(\w+)\s*\}\}$")
_STEP_KEYS = ("allow_reuse", "version", "run_after")


class PipelineStepYaml(JobSpec):
    """An inline job: the job YAML keys, plus reuse settings and ordering. An input may be an
    upstream output, ``"${{parent.jobs.<job>.outputs.<name>}}"``."""

    source_directory: str = Field(".", description="Folder to snapshot and run the step in, relative to the "
                                                   "pipeline YAML's folder.")
    inputs: dict[str, Union[InputSpec, str]] = Field(  # type: ignore[assignment]
        default_factory=dict, description="Named data inputs: a dataset, or an upstream step's output "
                                          "`${{parent.jobs.<job>.outputs.<name>}}`.")
    allow_reuse: bool = Field(True, description="Reuse an earlier run of this step when nothing in its "
                                                "reuse key changed (`scriptrun pipeline why` says what did).")
    version: str | None = Field(None, description="A version string that is part of the reuse key: change it "
                                                  "to force a re-run.")
    run_after: list[str] = Field(default_factory=list, description="Jobs this one starts after, beyond its "
                                                                   "data dependencies.")


class PipelineYaml(SpecModel):
    """A pipeline YAML file."""

    description: str | None = Field(None, description="What the pipeline does.")
    inputs: dict[str, Union[bool, int, float, str]] = Field(
        default_factory=dict, description="Pipeline parameters with their defaults, used as "
                                          "`${{parent.inputs.<name>}}`; set at submit with --set inputs.NAME=V.")
    jobs: dict[str, Union[str, PipelineStepYaml]] = Field(
        description="The steps by name: an inline job, or the path of a job YAML file.")


class _Document(SpecModel):  # the top level, checked before each job on its own
    description: str | None = None
    inputs: dict[str, Union[bool, int, float, str]] = Field(default_factory=dict)
    jobs: dict[str, Any]


def pipeline_from_yaml(workspace: Workspace, file: str | os.PathLike[str]) -> Any:
    path = str(file)
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise ConfigError(Problem("", "expected a mapping with `jobs:`", file=path, line=1,
                                  hint="a pipeline file has `description:`, `inputs:` and `jobs:`"))
    return pipeline_from_mapping(workspace, data, base_dir=Path(path).resolve().parent, file=path, lines=lines)


def pipeline_from_mapping(workspace: Workspace, data: dict[str, Any], *, base_dir: str | os.PathLike[str],
                          file: str | None = None, lines: dict[Loc, int] | None = None) -> Any:
    """A :class:`Pipeline` from a parsed pipeline YAML mapping (paths relative to ``base_dir``)."""
    # local: pipeline.py imports this module (Pipeline.from_yaml/to_yaml, publishing)
    from scriptrun.pipeline.pipeline import Pipeline

    doc = validate_model(_Document, data, file=file, lines=lines)
    problems: list[Problem] = []

    def problem(loc: Loc, message: str, hint: str | None = None) -> None:
        problems.append(Problem(format_path(loc), message, hint, file, _line_of(lines, loc)))

    for name, value in doc.inputs.items():
        for p in check_value(name, value):
            problem(("inputs", name), p.message, p.hint)
    srcs: dict[str, ScriptRunConfig] = {}
    extras: dict[str, dict[str, Any]] = {}
    bindings: dict[str, dict[str, tuple[str, str, str, str | None]]] = {}
    for job, body in doc.jobs.items():
        loc: Loc = ("jobs", job)
        try:
            spec, extra, bound = _job(job, body, base_dir, file, lines)
        except ConfigError as exc:
            problems += exc.problems
            continue
        src = ScriptRunConfig._from_spec(spec)
        src._yaml_file = file if not isinstance(body, str) else str(Path(base_dir) / body)
        src._yaml_lines = ({format_path(k[2:]): v for k, v in (lines or {}).items() if k[:2] == loc}
                           if not isinstance(body, str) else None)
        srcs[job], extras[job], bindings[job] = src, extra, bound
        for i, arg in enumerate([*spec.arguments, *(spec.command if isinstance(spec.command, list) else
                                                    [spec.command] if spec.command else [])]):
            for name in PARAMETER_PLACEHOLDER.findall(str(arg)):
                if name not in doc.inputs:
                    problem((*loc, "arguments", i) if i < len(spec.arguments) else (*loc, "command"),
                            f"refers to pipeline input {name!r}, which `inputs:` does not declare",
                            did_you_mean(name, list(doc.inputs)) or "declare it: inputs: {" + name + ": <default>}")
    steps = {}
    for job, src in srcs.items():
        for input_name, (producer, output, mode, path_on_compute) in bindings[job].items():
            loc = ("jobs", job, "inputs", input_name)
            if producer not in doc.jobs:
                problem(loc, f"refers to job {producer!r}, which this pipeline does not have",
                        did_you_mean(producer, list(doc.jobs)) or f"jobs: {', '.join(doc.jobs)}")
                continue
            if producer not in srcs:
                continue  # that job has problems of its own
            outputs = {o.name: o for o in srcs[producer].outputs or []}
            if output not in outputs:
                problem(loc, f"job {producer!r} has no output {output!r}",
                        did_you_mean(output, list(outputs)) or (f"its outputs: {', '.join(outputs)}" if outputs else
                                                                f"declare it in {producer}'s `outputs:`"))
                continue
            src.inputs = [*(src.inputs or []),
                          OutputConsumptionConfig(input_name, outputs[output], mode, path_on_compute)]
        extra = extras[job]
        steps[job] = PythonScriptStep(name=job, script_run_config=src, allow_reuse=extra.get("allow_reuse", True),
                                      version=extra.get("version"))
    for job, step in steps.items():
        for i, before in enumerate(extras[job].get("run_after") or []):
            if before in steps:
                step.run_after(steps[before])
            else:
                problem(("jobs", job, "run_after", i), f"no job named {before!r}", did_you_mean(before, list(doc.jobs)))
    raise_problems(problems)
    if not steps:
        raise ConfigError(Problem("jobs", "a pipeline needs at least one job", file=file,
                                  line=_line_of(lines, ("jobs",))))
    pipeline = Pipeline(workspace, list(steps.values()), description=doc.description)
    pipeline._parameters = dict(doc.inputs)
    pipeline._yaml_file = file
    return pipeline


def _job(job: str, body: Any, base_dir: str | os.PathLike[str], file: str | None,
         lines: dict[Loc, int] | None) -> tuple[JobSpec, dict[str, Any], dict[str, tuple[str, str, str, str | None]]]:
    """One job's spec, its step settings, and its upstream inputs (input -> producer, output,
    mode, path_on_compute)."""
    loc: Loc = ("jobs", job)
    if isinstance(body, str):
        return job_spec_from_yaml(Path(base_dir) / body), {}, {}
    if not isinstance(body, dict):
        raise ConfigError(Problem(format_path(loc), f"expected the job's keys or a path to a job YAML, got "
                                  f"{type(body).__name__}", file=file, line=_line_of(lines, loc)))
    step = validate_model(PipelineStepYaml, body, prefix=loc, file=file, lines=lines)
    bound: dict[str, tuple[str, str, str, str | None]] = {}
    inputs = {}
    problems = []
    for name, item in step.inputs.items():
        reference = item if isinstance(item, str) else item.dataset if isinstance(item.dataset, str) else None
        match = BINDING.match(reference) if reference else None
        if match:
            mode = item.mode if isinstance(item, InputSpec) else "mount"
            if mode == "direct":
                mode = "mount"
            bound[name] = (match.group(1), match.group(2), mode,
                           item.path_on_compute if isinstance(item, InputSpec) else None)
        elif isinstance(item, str):
            problems.append(Problem(format_path((*loc, "inputs", name)), f"{item!r} is neither an input mapping "
                                    "nor an upstream output", hint="use {dataset: name:1, mode: mount} or "
                                    "\"${{parent.jobs.<job>.outputs.<name>}}\"", file=file,
                                    line=_line_of(lines, (*loc, "inputs", name))))
        else:
            inputs[name] = item
    raise_problems(problems)
    data = step.model_dump(exclude={"inputs", *_STEP_KEYS}, exclude_unset=True)
    data["inputs"] = {n: i.model_dump(exclude_unset=True) for n, i in inputs.items()}
    data["inputs"].update({n: {"dataset": {"type": "file"}, "mode": b[2]} for n, b in bound.items()})
    data["source_directory"] = str((Path(base_dir) / os.path.expanduser(step.source_directory)).resolve())
    spec = validate_model(JobSpec, data, prefix=loc, file=file, lines=lines)
    spec = spec.model_copy(update={"inputs": {n: i for n, i in spec.inputs.items() if n not in bound}})
    extra = {k: getattr(step, k) for k in _STEP_KEYS if k in step.model_fields_set}
    return spec, extra, bound


def pipeline_to_mapping(pipeline: Any, base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The YAML mapping of ``pipeline`` (every job inline; ``source_directory`` relative to
    ``base_dir`` when given, else absolute)."""
    nodes, defaults = pipeline._plan(snapshot=False)
    jobs: dict[str, Any] = {}
    for node in nodes:
        if node.sweep:
            raise ConfigError(Problem(f"steps.{node.name}", "a HyperDriveStep cannot be written as pipeline YAML "
                                      "(the pipeline YAML has no sweep jobs)",
                                      hint="keep this pipeline in Python, or run the sweep on its own with "
                                           "`scriptrun run submit-hyperdrive`"))
        if node.spec_parameters:
            raise ConfigError(Problem(f"steps.{node.name}.runconfig_pipeline_params", "cannot be written as YAML",
                                      hint="set node/process counts in the job itself"))
        bound = {n: node.spec["inputs"][n] for n in node.bindings}
        spec = JobSpec.model_validate({**node.spec, "inputs": {k: v for k, v in node.spec["inputs"].items()
                                                               if k not in bound}})
        data = job_spec_to_yaml_dict(spec, base_dir)
        data.pop("schema_version", None)
        if base_dir is None:
            data["source_directory"] = spec.source_directory
        for name, binding in node.bindings.items():
            reference = "${{parent.jobs." + binding.step + ".outputs." + binding.output + "}}"
            item = bound[name]
            data.setdefault("inputs", {})[name] = (reference if item.get("mode") == "mount" and not
                                                   item.get("path_on_compute") else
                                                   {"dataset": reference, "mode": item["mode"],
                                                    **({"path_on_compute": item["path_on_compute"]}
                                                       if item.get("path_on_compute") else {})})
        if not node.allow_reuse:
            data["allow_reuse"] = False
        if node.components.get("version"):
            data["version"] = node.components["version"]
        if node.after:
            data["run_after"] = list(node.after)
        jobs[node.name] = data
    out: dict[str, Any] = {}
    if pipeline.description:
        out["description"] = pipeline.description
    if defaults:
        out["inputs"] = defaults
    out["jobs"] = jobs
    return out


def pipeline_to_yaml(pipeline: Any, file: str | os.PathLike[str] | None = None) -> str:
    base = Path(file).resolve().parent if file is not None else None
    text = yaml.safe_dump(pipeline_to_mapping(pipeline, base), sort_keys=False, default_flow_style=False)
    if file is not None:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        Path(file).write_text(text, encoding="utf-8")
    return text


def pipeline_json_schema() -> dict[str, Any]:
    """The JSON Schema of the pipeline YAML (for ``scriptrun schema --pipeline``)."""
    return PipelineYaml.model_json_schema()
