"""Turn pydantic validation errors into :class:`~scriptrun.errors.Problem` s.

Each problem gets a dotted field path (``distributed_job_config.process_count``), the YAML
file and line when the data came from YAML, and a hint (``did you mean `node_count`?``).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from scriptrun.errors import ConfigError, Problem

Loc = tuple[Any, ...]


def format_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def did_you_mean(name: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the last key of ``loc`` (for "did you mean")."""
    current: Any = model
    for part in loc[:-1]:
        current = _step(current, part)
        if current is None:
            return None
    current = _unwrap(current, None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _step(annotation: Any, part: Any) -> Any:
    annotation = _unwrap(annotation, part)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(part, str) and part in annotation.model_fields:
            return annotation.model_fields[part].annotation
        return None
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set):
        return typing.get_args(annotation)[0]
    if origin in (dict, Mapping):
        return typing.get_args(annotation)[1]
    return annotation  # a union member tag (e.g. 'pytorch') is consumed by _unwrap next time


def _unwrap(annotation: Any, part: Any) -> Any:
    """Strip Annotated/Optional; pick the union member that a discriminator tag names."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin is typing.Union or isinstance(annotation, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            tagged = [m for m in models if _tag(m) == part]
            if tagged:
                return _TagConsumed(tagged[0])
            if len(models) == 1:
                annotation = models[0]
                continue
            if len(members) == 1:
                annotation = members[0]
                continue
            return annotation
        if isinstance(annotation, _TagConsumed):
            return annotation.model
        return annotation


class _TagConsumed:
    def __init__(self, model: type[BaseModel]):
        self.model = model


def _tag(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("type")
    return field.default if field is not None else None


def _strip_tags(model: type[BaseModel], loc: Loc) -> Loc:
    """Drop the discriminator tags pydantic inserts into locations of tagged unions."""
    out: list[Any] = []
    current: Any = model
    for part in loc:
        unwrapped = _unwrap(current, part)
        if isinstance(unwrapped, _TagConsumed):
            current = unwrapped.model
            continue
        out.append(part)
        current = _step(current, part) if current is not None else None
    return tuple(out)


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def problems_from_validation(
    err: ValidationError,
    model: type[BaseModel],
    *,
    prefix: Loc = (),
    file: str | None = None,
    lines: Mapping[Loc, int] | None = None,
) -> list[Problem]:
    problems: list[Problem] = []
    for e in err.errors():
        raw_loc = tuple(e["loc"])
        loc = _strip_tags(model, raw_loc)
        full = prefix + loc
        kind = e["type"]
        hint = None
        if kind == "extra_forbidden":
            owner = _model_at(model, raw_loc)
            if owner is not None and loc and isinstance(loc[-1], str):
                hint = did_you_mean(loc[-1], list(owner.model_fields))
            message = "unknown key"
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = e["msg"]
            if "input" in e and not isinstance(e["input"], (dict, list)):
                message += f" (got {e['input']!r})"
        problems.append(
            Problem(path=format_path(full), message=message, hint=hint, file=file, line=_line_of(lines, full))
        )
    return problems


def _line_of(lines: Mapping[Loc, int] | None, loc: Loc) -> int | None:
    if not lines:
        return None
    while True:
        if loc in lines:
            return lines[loc]
        if not loc:
            return None
        loc = loc[:-1]


def validate_model(
    model: type[BaseModel],
    data: Any,
    *,
    prefix: Loc = (),
    file: str | None = None,
    lines: Mapping[Loc, int] | None = None,
) -> Any:
    """``model.model_validate(data)`` raising :class:`ConfigError` with every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(problems_from_validation(err, model, prefix=prefix, file=file, lines=lines)) from None
