"""How a run reads in MLflow: its params, name, description and error text (pure functions).

The tracking adapter writes what these return; nothing here imports MLflow. Params are what
MLflow's compare and parallel-coordinates views work on, so every run gets the script's
arguments (``--lr 0.1`` → ``lr=0.1``, ``--flag`` → ``flag=true``, positional ones
``arg_<i>``) plus how and where it ran (``node_count``, ``distributed_type``, process counts,
``environment``, ``compute_target``, ``input.<name>``). Sweep trials get their
hyperparameters this way, since they are arguments.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

MAX_PARAM_VALUE = 6000  # MLflow 3: mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_KEY = 250  # MAX_ENTITY_KEY_LENGTH
MAX_TAG_VALUE = 8000  # MAX_TAG_VAL_LENGTH
_OPTION = re.compile(r"^--?([A-Za-z_][\w.\-]*)(?:=(.*))?$", re.DOTALL)
_KEY_CHARS = re.compile(r"[^\w\-. /]")

MLFLOW_WORDS = (b"mlflow", b"transformers")  # a script that may write to MLflow itself
_SOURCE_SUFFIXES = (".py", ".sh", ".ipynb", ".yml", ".yaml", ".cfg", ".toml", ".json", ".txt")
MAX_SCANNED_FILES = 5000
MAX_SCANNED_BYTES = 2 << 20
RUN_NAME_TAG = "mlflow.runName"
DESCRIPTION_TAG = "mlflow.note.content"
USER_TAG = "mlflow.user"


def _key(name: str) -> str:
    return _KEY_CHARS.sub("_", name)[:MAX_KEY] or "_"


def _value(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= MAX_PARAM_VALUE else text[:MAX_PARAM_VALUE - 3] + "..."


def argument_params(arguments: list[Any]) -> dict[str, str]:
    """``--name value`` / ``--name=value`` pairs, ``--flag`` alone as ``true``, the rest as
    ``arg_<i>`` (i counts positional arguments from 0). A repeated option keeps its last value."""
    params: dict[str, str] = {}
    positional = 0
    i = 0
    while i < len(arguments):
        item = arguments[i]
        match = _OPTION.match(item) if isinstance(item, str) else None
        if match is None:
            params[f"arg_{positional}"] = _value(item)
            positional += 1
        elif match.group(2) is not None:
            params[_key(match.group(1))] = _value(match.group(2))
        else:
            following = arguments[i + 1] if i + 1 < len(arguments) else None
            if following is None or (isinstance(following, str) and _OPTION.match(following)):
                params[_key(match.group(1))] = "true"
            else:
                params[_key(match.group(1))] = _value(following)
                i += 1
        i += 1
    return params


def run_params(spec: dict[str, Any] | None, target: str = "local") -> dict[str, str]:
    """Every MLflow param of a script run, from its canonical spec (JSON form). A script
    argument wins over a computed param of the same name."""
    if not spec:
        return {}
    params = argument_params(list(spec.get("arguments") or []))
    if spec.get("command"):
        command = spec["command"]
        params.setdefault("command", _value(command if isinstance(command, str) else " ".join(map(str, command))))
    computed: dict[str, Any] = {"compute_target": spec.get("compute_target") or target,
                                "node_count": spec.get("node_count", 1)}
    distribution = spec.get("distributed_job_config") or {}
    if distribution:
        computed["distributed_type"] = distribution.get("type")
        for name, value in distribution.items():
            if value is not None and (name.endswith(("_count", "_per_node")) or name == "communication_backend"):
                computed[name] = value
    env = spec.get("environment")
    if isinstance(env, str):
        computed["environment"] = env
    elif isinstance(env, dict) and env.get("name"):
        computed["environment"] = f"{env['name']}:{env['version']}" if env.get("version") else env["name"]
    for name, item in sorted((spec.get("inputs") or {}).items()):
        dataset = (item or {}).get("dataset")
        if isinstance(dataset, str):
            computed[f"input.{name}"] = dataset
        elif isinstance(dataset, dict):
            label = dataset.get("name") or "inline"
            computed[f"input.{name}"] = f"{label}:{dataset['version']}" if dataset.get("version") else label
    for name, value in computed.items():
        params.setdefault(_key(name), _value(value))
    return params


def error_text(error: dict[str, Any]) -> str:
    """A failed run's full error, as ``error.txt`` shows it."""
    lines = [f"{error.get('code', 'Error')}: {error.get('message', '')}"]
    if error.get("exit_code") is not None:
        lines.append(f"exit code: {error['exit_code']}")
    if error.get("process"):
        lines.append(f"failed process: {error['process']}")
    tail = (error.get("stderr_tail") or "").rstrip()
    if tail:
        lines += ["", "--- end of stderr ---", tail]
    return "\n".join(lines) + "\n"


def description_with_error(description: str | None, error: dict[str, Any]) -> str:
    """The run's description (MLflow renders it as markdown) with its error appended."""
    text = f"**{error.get('code', 'Error')}**: {error.get('message', '')}"
    tail = (error.get("stderr_tail") or "").rstrip()
    if tail:
        text += f"\n\n```\n{tail[-3000:]}\n```"
    text += "\n\nThe full error is the run's `error.txt`."
    out = f"{description}\n\n{text}" if description else text
    return out[-MAX_TAG_VALUE:]


def table_columns(records: list[dict[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """Each ``log_row``/``log_table`` name → its columns (rows appended in order; a missing
    cell is None)."""
    tables: dict[str, dict[str, list[Any]]] = {}
    for rec in records:
        kind, name = rec.get("k"), str(rec.get("n"))
        if kind not in ("r", "tb"):
            continue
        rows = [rec.get("v") or {}] if kind == "r" else _rows(rec.get("v") or {})
        table = tables.setdefault(name, {})
        length = len(next(iter(table.values()))) if table else 0
        for row in rows:
            for column in row:
                table.setdefault(column, [None] * length)
            for column, values in table.items():
                values.append(row.get(column))
            length += 1
    return tables


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    length = max((len(v) for v in columns.values()), default=0)
    return [{k: (v[i] if i < len(v) else None) for k, v in columns.items()} for i in range(length)]


def snapshot_mentions(folder: Path, words: tuple[bytes, ...]) -> bool:
    """Whether a source file (``.py``, ``.sh``, configs… up to 2 MB each) under ``folder``
    mentions one of ``words``; True as well for a folder too large to tell."""
    pattern = re.compile(b"|".join(re.escape(w) for w in words), re.IGNORECASE)
    scanned = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            if not name.endswith(_SOURCE_SUFFIXES):
                continue
            scanned += 1
            if scanned > MAX_SCANNED_FILES:
                return True
            path = os.path.join(dirpath, name)
            try:
                if os.path.getsize(path) > MAX_SCANNED_BYTES:
                    return True
                with open(path, "rb") as fh:
                    if pattern.search(fh.read()):
                        return True
            except OSError:
                continue
    return False
