"""Reuse keys that explain themselves (pure functions over a spec's JSON form).

Every planned run gets one (``runs.submit.plan_job``); pipelines use them to reuse steps.
A run's key is a hash of its *components*: a flat dict naming each part of what the step
would compute — its source snapshot (and each file's hash), each part of its canonical spec,
its environment, each input (a dataset version, or an upstream output's fingerprint) and
each pipeline parameter it uses. Two runs with the same components would do the same work,
so the host may reuse the earlier one. Because the parts are named, :func:`explain_reuse`
can say *which* part changed between two runs of a step, which v1's service never could.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

MAX_SOURCE_FILES = 300  # per-file components only for source folders up to this many files
SOURCE_FILE = "source/"  # prefix of per-file components: ``source/train.py`` -> content hash
_SPEC_PARTS = ("script", "arguments", "command", "compute_target", "distributed_job_config", "node_count",
               "environment_variables", "outputs")
_IGNORED = ("schema_version", "source_directory", "environment", "inputs", "description")  # covered elsewhere, or not content
_ENV_PARTS = {"pip_packages": "pip package", "conda_packages": "conda package", "python_version": "python version",
              "variables": "variables", "docker": "docker image"}


def digest(value: Any) -> str:
    """A short, stable content hash of a JSON-able value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def static_components(step_name: str, spec: Mapping[str, Any], snapshot_id: str,
                      source_files: Mapping[str, str] | None = None, version: str | None = None,
                      bound_inputs: tuple[str, ...] = ()) -> dict[str, str]:
    """The parts of a step's key known before the pipeline runs: ``spec`` is the step's
    JobSpec in JSON form (parameters still as ``${{parent.inputs.x}}`` placeholders, so a
    parameter's value is its own component), ``source_files`` maps path -> content hash.
    Inputs named in ``bound_inputs`` come from upstream steps and are added at submit time."""
    parts: dict[str, str] = {"step": step_name, "version": version or "", "source": snapshot_id}
    if source_files is not None and len(source_files) <= MAX_SOURCE_FILES:
        parts.update({SOURCE_FILE + path: sha[:12] for path, sha in source_files.items()})
    for key in _SPEC_PARTS:
        parts[f"spec.{key}"] = _text(spec.get(key))
    rest = {k: v for k, v in spec.items() if k not in _SPEC_PARTS and k not in _IGNORED}
    parts["spec.other"] = _text(rest)
    parts.update(environment_components(spec.get("environment")))
    for name, item in sorted((spec.get("inputs") or {}).items()):
        if name not in bound_inputs:
            parts[f"input.{name}"] = dataset_component(item)
    return parts


def environment_components(env: Any) -> dict[str, str]:
    """``environment`` (the whole definition's hash) plus readable parts for explanations."""
    parts = {"environment": digest(env)}
    if isinstance(env, dict):
        conda = ((env.get("python") or {}).get("conda_dependencies") or {})
        parts["environment.pip_packages"] = _text(sorted(conda.get("pip_packages") or []))
        parts["environment.conda_packages"] = _text(sorted(conda.get("conda_packages") or []))
        parts["environment.python_version"] = _text(conda.get("python_version"))
        parts["environment.variables"] = _text(env.get("environment_variables") or {})
        parts["environment.docker"] = _text(env.get("docker"))
    else:
        parts["environment.name"] = _text(env)
    return parts


def dataset_component(item: Mapping[str, Any]) -> str:
    """A registered dataset input: ``name:version fingerprint mode``; an inline one: its definition's hash."""
    dataset = item.get("dataset")
    mode = item.get("mode", "direct")
    if isinstance(dataset, dict) and dataset.get("name"):
        return f"{dataset['name']}:{dataset.get('version')} {dataset.get('fingerprint') or ''} {mode}".strip()
    if isinstance(dataset, str):
        return f"{dataset} {mode}"
    return f"{digest(item)} {mode}"


def upstream_component(step: str, output: str, fingerprint: str | None, run_id: str | None) -> str:
    """An input produced by an upstream step: its output's content fingerprint (or, without
    one, the run that produced it), so unchanged upstream content keeps downstream reusable."""
    body: dict[str, Any] = {"from": f"{step}.{output}"}
    if fingerprint:
        body["fingerprint"] = fingerprint
    else:
        body["run"] = run_id
    return _text(body)


def parameter_component(value: Any) -> str:
    return _text(value)


def reuse_key(components: Mapping[str, str]) -> str:
    return digest(dict(components))


# -- explanations --------------------------------------------------------------------------


def explain_reuse(current: Mapping[str, str], previous: Mapping[str, str] | None) -> list[str]:
    """Why a step's key differs from an earlier run's: one line per changed part, e.g.
    ``source: train.py changed``, ``input prepped: upstream step prep re-ran``,
    ``parameter lr: 0.1 → 0.5``. Empty when nothing differs."""
    if previous is None:
        return ["no earlier run of this step"]
    changed = {k for k in set(current) | set(previous) if current.get(k) != previous.get(k)}
    lines: list[str] = []
    if "step" in changed:
        lines.append(f"step renamed: {previous.get('step')} → {current.get('step')}")
    if "source" in changed or any(k.startswith(SOURCE_FILE) for k in changed):
        lines += _explain_source(current, previous)
    for key in sorted(k for k in changed if k.startswith("spec.")):
        field = key[len("spec."):]
        lines.append(f"{field}: {_show(previous.get(key))} → {_show(current.get(key))}"
                     if field != "other" else "run settings changed (docker, deadline, datastore or resume_from)")
    if any(k == "environment" or k.startswith("environment.") for k in changed):
        lines += _explain_environment(current, previous, changed)
    for key in sorted(k for k in changed if k.startswith("input.")):
        lines.append(_explain_input(key[len("input."):], current.get(key), previous.get(key)))
    for key in sorted(k for k in changed if k.startswith("param.")):
        name = key[len("param."):]
        if key not in previous:
            lines.append(f"parameter {name}: now used ({_show(current[key])})")
        elif key not in current:
            lines.append(f"parameter {name}: no longer used")
        else:
            lines.append(f"parameter {name}: {_show(previous[key])} → {_show(current[key])}")
    if "version" in changed:
        lines.append(f"version: {previous.get('version') or 'none'!r} → {current.get('version') or 'none'!r}")
    known = ("step", "source", "version")
    rest = sorted(k for k in changed if k not in known and not k.startswith(
        (SOURCE_FILE, "spec.", "environment", "input.", "param.")))
    lines += [f"{k} changed" for k in rest]
    return lines


def _show(value: str | None) -> str:
    if value is None:
        return "none"
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return value
    return parsed if isinstance(parsed, str) else json.dumps(parsed)


def _explain_source(current: Mapping[str, str], previous: Mapping[str, str]) -> list[str]:
    now = {k[len(SOURCE_FILE):]: v for k, v in current.items() if k.startswith(SOURCE_FILE)}
    before = {k[len(SOURCE_FILE):]: v for k, v in previous.items() if k.startswith(SOURCE_FILE)}
    if not now or not before:
        return ["source: the source directory changed"]
    lines = [f"source: {p} changed" for p in sorted(now) if p in before and now[p] != before[p]]
    lines += [f"source: {p} added" for p in sorted(set(now) - set(before))]
    lines += [f"source: {p} removed" for p in sorted(set(before) - set(now))]
    return lines or ["source: the source directory changed"]


def _explain_environment(current: Mapping[str, str], previous: Mapping[str, str], changed: set[str]) -> list[str]:
    lines = []
    for part, label in _ENV_PARTS.items():
        key = f"environment.{part}"
        if key not in changed:
            continue
        old, new = _load(previous.get(key)), _load(current.get(key))
        if isinstance(old, list) and isinstance(new, list):
            lines += [f"environment: {label} added: {p}" for p in new if p not in old]
            lines += [f"environment: {label} removed: {p}" for p in old if p not in new]
        else:
            lines.append(f"environment: {label} {_show(previous.get(key))} → {_show(current.get(key))}")
    if "environment.name" in changed:
        lines.append(f"environment: {_show(previous.get('environment.name'))} → "
                     f"{_show(current.get('environment.name'))}")
    return lines or ["environment: its definition changed"]


def _load(value: str | None) -> Any:
    try:
        return json.loads(value) if value is not None else None
    except ValueError:
        return value


def _explain_input(name: str, now: str | None, before: str | None) -> str:
    if before is None:
        return f"input {name}: new input"
    if now is None:
        return f"input {name}: removed"
    new, old = _load(now), _load(before)
    if isinstance(new, dict) and "from" in new:
        step = new["from"].split(".")[0]
        if isinstance(old, dict) and old.get("from") == new["from"]:
            return f"input {name}: upstream step {step} re-ran and its output changed"
        return f"input {name}: now produced by upstream step {step}"
    return f"input {name}: dataset {before} → {now}"
