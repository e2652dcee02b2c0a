"""``PipelineParameter``: a value chosen when the pipeline is submitted (v1 §7.4).

A parameter is a ``str`` whose text is its placeholder ``${{parent.inputs.<name>}}``, so it
goes anywhere a string goes — a ``ScriptRunConfig``'s ``arguments`` or ``command``, inside an
f-string (``f"--lr={lr}"``), a step's ``params`` — and the pipeline fills in the value given at
submission (``pipeline_parameters={"lr": 0.5}``) or the default. (v1's ``str(parameter)`` was
``PipelineParameter_Name:<name>_Default:<default>``, which scripts never saw.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scriptrun.errors import ConfigError, Problem
from scriptrun.pipeline.graph import parameter_placeholder
from scriptrun.spec.problems import did_you_mean

_NAME = re.compile(r"^\w+$")
TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "string"}


class PipelineParameter(str):
    """Pipeline parameter ``name`` with ``default_value`` (an int, float, bool or single-line str)."""

    name: str
    default_value: Any

    def __new__(cls, name: str, default_value: Any) -> PipelineParameter:
        problems = []
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(Problem(f"PipelineParameter({name!r})", f"invalid parameter name {name!r}",
                                    hint="use letters, digits and '_' only, e.g. 'learning_rate'"))
        problems += check_value(str(name), default_value, what="default_value")
        if problems:
            raise ConfigError(problems)
        obj = super().__new__(cls, parameter_placeholder(name))
        obj.name = name
        obj.default_value = default_value
        return obj

    def __getnewargs__(self) -> tuple[str, Any]:  # copy/deepcopy/pickle rebuild through __new__
        return (self.name, self.default_value)

    @property
    def type_name(self) -> str:
        """v1's serialised type: ``int``, ``float``, ``bool`` or ``string``."""
        return TYPE_NAMES[type(self.default_value)]

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"


def check_value(name: str, value: Any, what: str = "value") -> list[Problem]:
    """A parameter value must be an int, float, bool or single-line str."""
    where = f"PipelineParameter({name!r}).{what}" if what == "default_value" else f"pipeline_parameters.{name}"
    if type(value) not in TYPE_NAMES:
        hint = ("datasets and DataPath parameters are not supported: pass the dataset to the step directly"
                if value is not None and type(value).__name__ in ("DataPath", "FileDataset", "TabularDataset")
                else "use an int, float, bool or str")
        return [Problem(where, f"unsupported type {type(value).__name__} ({value!r})", hint=hint)]
    if isinstance(value, str) and "\n" in value:
        return [Problem(where, "multi-line strings are not supported as parameter values",
                        hint="pass a single line (or a path to a file holding the text)")]
    return []


def resolve_parameters(defaults: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The value of every parameter: ``given`` (at submission) over the defaults. Unknown names
    and values of another type than the default are errors."""
    if given is not None and not isinstance(given, Mapping):
        raise ConfigError(Problem("pipeline_parameters", f"expected a dict of name -> value, got "
                                  f"{type(given).__name__}", hint="pipeline_parameters={'lr': 0.5}"))
    values = dict(defaults)
    problems = []
    for name, value in (given or {}).items():
        if name not in defaults:
            hint = did_you_mean(str(name), list(defaults)) or (
                f"this pipeline's parameters: {', '.join(sorted(defaults))}" if defaults
                else "this pipeline has no parameters")
            problems.append(Problem(f"pipeline_parameters.{name}", "unknown pipeline parameter", hint=hint))
            continue
        found = check_value(str(name), value)
        default = defaults[name]
        if not found and not _compatible(default, value):
            found = [Problem(f"pipeline_parameters.{name}", f"expected a {TYPE_NAMES[type(default)]} like the "
                             f"default {default!r}, got {type(value).__name__} {value!r}")]
        problems += found
        values[name] = float(value) if isinstance(default, float) and type(value) is int else value
    if problems:
        raise ConfigError(problems)
    return values


def _compatible(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(default) is type(value)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return type(default) is type(value)
