"""The run's metrics file: how scripts record metrics and how they read back in v1 shapes.

A script never waits on the tracking store: each ``run.log*``/``tag``/``upload`` call is one
unbuffered ``O_APPEND`` write of a JSON line to ``<run dir>/metrics.jsonl`` (microseconds;
the kernel keeps it even if the process is SIGKILLed right after). The agent tails the file
and batches it into MLflow. Stdlib only: this module is imported inside training scripts.

Record kinds (key ``k``): ``m`` scalar, ``l`` list, ``r`` row, ``tb`` table, ``img`` image,
``tag`` tag, ``prop`` properties, ``up`` uploaded file.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Iterable
from typing import Any

METRICS_FILE = "metrics.jsonl"

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


class MetricsWriter:
    """Appends records to a run's metrics file, one ``write`` syscall per record."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        record.setdefault("t", int(time.time() * 1000))
        line = (json.dumps(record, separators=(",", ":"), default=repr) + "\n").encode()
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_records(path: str | os.PathLike[str], offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete records from byte ``offset``; returns them and the offset after the last one."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    records = []
    for line in data[: end + 1].splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a torn line from a crashed writer
    return records, offset + end + 1


def shape_metrics(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """v1's ``get_metrics()`` shapes: a scalar logged once is a value, N times a list; rows
    and tables are column → value (one row) or column → list; lists are lists."""
    scalars: dict[str, list[Any]] = {}
    lists: dict[str, list[Any]] = {}
    tables: dict[str, dict[str, list[Any]]] = {}
    images: dict[str, str] = {}
    order: list[str] = []
    for rec in records:
        kind, name = rec.get("k"), rec.get("n")
        if kind not in ("m", "l", "r", "tb", "img"):
            continue
        if name not in order:
            order.append(name)
        if kind == "m":
            scalars.setdefault(name, []).append(rec.get("v"))
        elif kind == "l":
            lists.setdefault(name, []).extend(rec.get("v") or [])
        elif kind in ("r", "tb"):
            table = tables.setdefault(name, {})
            for col, val in (rec.get("v") or {}).items():
                table.setdefault(col, []).extend(val if kind == "tb" and isinstance(val, list) else [val])
        else:
            images[name] = rec.get("p", "")
    out: dict[str, Any] = {}
    for name in order:
        if name in scalars:
            values = scalars[name]
            out[name] = values[0] if len(values) == 1 else values
        elif name in lists:
            out[name] = lists[name]
        elif name in tables:
            out[name] = {c: (v[0] if len(v) == 1 else v) for c, v in tables[name].items()}
        else:
            out[name] = images[name]
    return out
