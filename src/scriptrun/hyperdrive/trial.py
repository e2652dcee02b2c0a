"""How a trial's hyperparameters reach its script (v1 §8.5): the base job's spec with
``--name value`` pairs appended (a name without leading dashes gets ``--``) to ``arguments``, or
to ``command`` when the job is a command; plus the values as JSON in ``SCRIPTRUN_HYPERPARAMETERS``
so ``Run.get_context()`` can hand them to the script.

Works on the spec's JSON form (the controller holds no pydantic model); the host validates the
child spec it receives.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Mapping
from typing import Any

HYPERPARAMETERS_ENV = "SCRIPTRUN_HYPERPARAMETERS"


def flag(name: str) -> str:
    """The command-line flag of a parameter name: ``learning_rate`` → ``--learning_rate``."""
    return name if name.startswith("-") else f"--{name}"


def format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, list) else str(value)


def argv_pairs(hyperparameters: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for name, value in hyperparameters.items():
        out += [flag(name), format_value(value)]
    return out


def hyperparameters_json(hyperparameters: Mapping[str, Any]) -> str:
    return json.dumps(dict(hyperparameters), sort_keys=False)


def trial_spec(base: Mapping[str, Any], hyperparameters: Mapping[str, Any], *,
               resume_from: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON spec of one trial of ``base``. ``resume_from`` (a data location) makes the job
    get ``--resume-from <local path>`` as v1's resumed child runs do."""
    spec = copy.deepcopy(dict(base))
    pairs = argv_pairs(hyperparameters)
    command = spec.get("command")
    if isinstance(command, list):
        spec["command"] = command + pairs
    elif isinstance(command, str):
        spec["command"] = " ".join([command, *map(shlex.quote, pairs)])
    else:
        spec["arguments"] = list(spec.get("arguments") or []) + pairs
    env = dict(spec.get("environment_variables") or {})
    env[HYPERPARAMETERS_ENV] = hyperparameters_json(hyperparameters)
    spec["environment_variables"] = env
    if resume_from is not None:
        spec["resume_from"] = dict(resume_from)
    return spec


def duplicate_flags(base_argv: list[Any], names: list[str]) -> list[str]:
    """Parameter names whose flag the base arguments already pass (v1: both would be passed)."""
    given = {a.lstrip("-") for a in base_argv if isinstance(a, str) and a.startswith("-")}
    return [n for n in names if n.lstrip("-") in given]
