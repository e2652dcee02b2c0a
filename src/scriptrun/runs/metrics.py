"""v1's value rules for ``run.log``: what a script may log as a metric.

The metrics file itself (record kinds, writer, reader, v1 shapes) is defined in
:mod:`scriptrun.rundir`. Stdlib only: this module is imported inside training scripts.
"""

from __future__ import annotations

import warnings
from typing import Any

_NATIVE = (bool, int, float, str, type(None))


def to_scalar(name: str, value: Any) -> Any:
    """v1's value rules for ``run.log``: native scalars kept, numpy scalars converted, lists
    rejected, anything else stored as its ``repr`` with a warning."""
    if isinstance(value, _NATIVE):
        return value
    if isinstance(value, (list, tuple, range, set)) or hasattr(value, "__next__"):
        raise ValueError(f"run.log({name!r}, ...) got a {type(value).__name__}; use run.log_list for lists")
    item = getattr(value, "item", None)
    if callable(item):
        try:
            converted = item()
        except (TypeError, ValueError):
            converted = None
        if isinstance(converted, _NATIVE):
            return converted
    warnings.warn(f"metric {name!r}: {type(value).__name__} value stored as its string form", stacklevel=3)
    return repr(value)
