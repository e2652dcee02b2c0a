#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: Open MPI (for MPI jobs), a project virtualenv in
# .venv with scriptrun installed (editable), its development tools, and the CPU build of
# PyTorch and mpi4py used by the distributed examples and tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if ! command -v mpirun >/dev/null 2>&1 || ! command -v dot >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing Open MPI, Graphviz and Chromium (apt-get)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin libopenmpi-dev graphviz chromium >/dev/null
    else
        echo "==> warning: mpirun, dot or chromium not found; MPI jobs need Open MPI, pipeline pictures Graphviz," \
             "the MLflow UI screenshot test Chromium (sudo apt-get install openmpi-bin libopenmpi-dev graphviz chromium)"
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
    echo "==> installing uv into .venv"
    .venv/bin/python -m pip install --quiet uv
fi
echo "==> installing scriptrun and its dependencies"
# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, and without .pyc files
# every import of MLflow in a fresh process costs seconds instead of about one.
.venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -e ".[dev]"
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "==> installing PyTorch (CPU build)"
    # pip, not uv: pip's configuration on this machine points at the local CPU wheel;
    # a plain resolver would download the multi-GB CUDA build.
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
if command -v mpirun >/dev/null 2>&1 && ! .venv/bin/python -c "import mpi4py" 2>/dev/null; then
    .venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python mpi4py
fi
echo "==> ready: $(.venv/bin/scriptrun --version)"
