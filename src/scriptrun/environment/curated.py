"""Curated environments: definitions shipped with scriptrun (``curated/*.yaml``).

They are listed by ``Environment.list(ws)`` and found by ``Environment.get(ws, name)``
after the workspace's registered environments. The curated names of Azure ML v1 code
(``AzureML-Minimal``, ``AzureML-PyTorch-1.6-GPU``, ``AzureML-sklearn-1.5``…) resolve to the
nearest scriptrun environment, with a warning that names it — so v1 code runs unchanged,
and says what it got.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from scriptrun.spec.job import EnvironmentSpec

CURATED_DIR = Path(__file__).resolve().parent / "curated"
CURATED_VERSION = 1
# v1 name pattern (lower-cased) → nearest curated scriptrun environment, first match wins
_V1_ALIASES: tuple[tuple[str, str], ...] = (
    (r"pytorch|torch", "scriptrun-pytorch-cpu"),
    (r"sklearn|scikit", "scriptrun-sklearn"),
    (r".*", "scriptrun-minimal"),
)


@cache
def curated_definitions() -> dict[str, dict[str, Any]]:
    """Every curated environment definition, by name."""
    out = {}
    for file in sorted(CURATED_DIR.glob("*.yaml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        EnvironmentSpec.model_validate(data)  # a broken shipped file is a bug: fail loudly
        out[data["name"]] = data
    return out


def is_v1_curated_name(name: str) -> bool:
    return name.lower().startswith(("azureml-", "microsoft-"))


def curated_name(name: str) -> str | None:
    """The curated environment ``name`` stands for (itself, or the nearest one for a v1
    curated name, with a warning), or None."""
    if name in curated_definitions():
        return name
    if not is_v1_curated_name(name):
        return None
    lowered = name.lower()
    target = next(t for pattern, t in _V1_ALIASES if re.search(pattern, lowered))
    notes = []
    if re.search(r"gpu|cuda", lowered):
        notes.append("CPU only")
    if re.search(r"tensorflow|keras", lowered):
        notes.append("no TensorFlow: add it with env.python.conda_dependencies.add_pip_package('tensorflow')")
    detail = f" ({'; '.join(notes)})" if notes else ""
    warnings.warn(f"environment {name!r} is an Azure ML curated environment; using the nearest curated "
                  f"scriptrun environment {target!r} instead{detail}", UserWarning, stacklevel=4)
    return target


def curated_definition(name: str) -> dict[str, Any] | None:
    resolved = curated_name(name)
    return dict(curated_definitions()[resolved]) if resolved else None
