"""Conda package specs → pip requirements, for machines with no conda.

v1 environments list conda packages (``pytorch``, ``scikit-learn=0.24``, ``py-xgboost``); where
no conda/micromamba is on PATH they are installed with uv/pip under their pip name, with a
warning that says so. Conda-only packages that pip does not need (``cudatoolkit``, ``pip``…)
are dropped; a package with no known pip equivalent stays an error.
"""

from __future__ import annotations

import re

# conda name → pip name, where they differ (None: nothing to install with pip)
_PIP_NAMES: dict[str, str | None] = {
    "pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch", "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost", "tensorflow-gpu": "tensorflow", "tensorflow-cpu": "tensorflow",
    "pyyaml": "PyYAML", "pillow-simd": "pillow", "opencv": "opencv-python", "py-opencv": "opencv-python",
    "libopencv": "opencv-python", "pytables": "tables", "msgpack-python": "msgpack", "lightgbm": "lightgbm",
    "cudatoolkit": None, "cudnn": None, "cpuonly": None, "nccl": None, "mkl": None, "blas": None,
    "libblas": None, "pip": None, "setuptools": None, "wheel": None, "python": None, "openmpi": None,
    "mpi4py": "mpi4py", "nomkl": None, "intel-openmp": None, "magma-cuda": None,
}
# conda packages with no pip distribution at all
_NO_PIP = frozenset({"r-base", "r-essentials", "cudatoolkit-dev", "gcc", "gxx_linux-64", "cmake-conda"})
_SPEC = re.compile(r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


def pip_requirement(conda_spec: str) -> str | None:
    """The pip requirement for one conda spec, ``None`` when pip needs nothing; raises
    ``LookupError`` when the package has no pip equivalent.

    ``numpy=1.21`` (conda's "1.21.*") → ``numpy==1.21.*``; ``numpy==1.21.2`` stays;
    ``scikit-learn>=0.24`` stays; ``conda-forge::lightgbm`` → ``lightgbm``.
    """
    match = _SPEC.match(conda_spec.strip())
    if not match:
        raise LookupError(conda_spec)
    name, rest = match["name"], match["rest"].strip()
    lowered = name.lower()
    if lowered in _NO_PIP or lowered.startswith("r-"):
        raise LookupError(conda_spec)
    pip_name = _PIP_NAMES.get(lowered, name)
    if pip_name is None:
        return None
    rest = rest.split("=", 2)[:2] if rest.startswith("=") and not rest.startswith("==") else rest
    if isinstance(rest, list):  # conda's single "=": a version prefix (the build string is dropped)
        version = rest[1]
        rest = f"=={version}" if version.count(".") >= 2 or "*" in version else f"=={version}.*"
    elif " " in rest:  # "1.21 py38_0": version and build string
        rest = f"=={rest.split()[0]}"
    return f"{pip_name}{rest}"


def pip_requirements(conda_specs: list[str]) -> tuple[list[str], list[str]]:
    """(pip requirements, specs with no pip equivalent) for a list of conda specs."""
    out: list[str] = []
    missing: list[str] = []
    for spec in conda_specs:
        try:
            requirement = pip_requirement(spec)
        except LookupError:
            missing.append(spec)
            continue
        if requirement is not None:
            out.append(requirement)
    return out, missing
