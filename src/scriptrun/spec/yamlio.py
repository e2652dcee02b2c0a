"""YAML reading with line numbers, and the canonical YAML form of a :class:`JobSpec`."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.job import JobSpec
from scriptrun.spec.problems import Loc, validate_model


def load_yaml_with_lines(path: str | os.PathLike[str]) -> tuple[Any, dict[Loc, int]]:
    """Parse a YAML file; return the data and a map from key path to 1-based line."""
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Problem(path="", message="file not found", file=file,
                                  hint="check the path; relative paths are resolved from the current directory"))
    except OSError as exc:
        raise ConfigError(Problem(path="", message=f"cannot read file: {exc.strerror}", file=file))
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(Problem(
            path="", message=f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            file=file, line=mark.line + 1 if mark else None,
            hint="check indentation and that every `key: value` pair has a space after the colon",
        ))
    lines: dict[Loc, int] = {}
    if node is not None:
        _record_lines(node, (), lines)
    return data, lines


def _record_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[loc + (key,)] = key_node.start_mark.line + 1
            _record_lines(value_node, loc + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, loc + (i,), lines)


def job_spec_from_yaml(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> JobSpec:
    """Load a job YAML file into a :class:`JobSpec`, after applying ``KEY=VALUE`` overrides.

    ``source_directory`` is resolved relative to the YAML file's folder (default: that folder).
    """
    file = str(path)
    data, lines = load_yaml_with_lines(file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(Problem(path="", message=f"expected a mapping of job keys, got {type(data).__name__}",
                                  file=file, line=1, hint="a job file starts with keys such as `script:`"))
    return job_spec_from_mapping(apply_overrides(data, overrides), base_dir=Path(file).resolve().parent,
                                 file=file, lines=lines)


def job_spec_from_mapping(data: dict[str, Any], *, base_dir: str | os.PathLike[str], file: str | None = None,
                          lines: dict[Loc, int] | None = None) -> JobSpec:
    """Validate a job mapping; a relative ``source_directory`` is taken from ``base_dir``."""
    source = data.get("source_directory", ".")
    if isinstance(source, str):
        data = {**data, "source_directory": str((Path(base_dir) / os.path.expanduser(source)).resolve())}
    return validate_model(JobSpec, data, file=file, lines=lines)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML scalars) to a copy of ``data``."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(Problem(path="--set", message=f"{item!r} is not KEY=VALUE",
                                      hint="e.g. --set node_count=2 or --set environment_variables.SEED=1"))
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.strip().split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(Problem(path=".".join(parts[: i + 1]), message=f"--set {key}: "
                                          f"`{'.'.join(parts[: i + 1])}` is not a mapping",
                                          hint="set the whole value instead"))
            node = child
        node[parts[-1]] = value
    return data


def job_spec_to_yaml_dict(spec: JobSpec, base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The canonical YAML mapping of ``spec``: defaults left out, ``source_directory`` made
    relative to ``base_dir`` (where the YAML file lives) when it is below it."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data["schema_version"] = spec.schema_version
    if spec.distributed_job_config is not None:  # the discriminator is a default, but must be kept
        data["distributed_job_config"] = {"type": spec.distributed_job_config.type,
                                          **data.get("distributed_job_config", {})}
    if base_dir is not None:
        rel = os.path.relpath(spec.source_directory, Path(base_dir).resolve())
        data["source_directory"] = rel.replace(os.sep, "/")
    ordered = {"schema_version": data.pop("schema_version"), "source_directory": data.pop("source_directory")}
    ordered.update(data)
    return ordered


def job_spec_to_yaml(spec: JobSpec, path: str | os.PathLike[str] | None = None) -> str:
    """Serialise ``spec`` as canonical YAML; write it to ``path`` when given."""
    base = Path(path).resolve().parent if path is not None else None
    text = yaml.safe_dump(job_spec_to_yaml_dict(spec, base), sort_keys=False, default_flow_style=False)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
