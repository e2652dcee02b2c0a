#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite: lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> ruff"
.venv/bin/ruff check src tests benchmarks examples
echo "==> pytest"
.venv/bin/python -m pytest "$@"
