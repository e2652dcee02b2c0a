#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: a project virtualenv in .venv with scriptrun
# installed (editable) and its development tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
    echo "==> installing uv into .venv"
    .venv/bin/python -m pip install --quiet uv
fi
echo "==> installing scriptrun and its dependencies"
.venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -e ".[dev]"
echo "==> ready: $(.venv/bin/scriptrun --version 2>/dev/null || echo scriptrun)"
