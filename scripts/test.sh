#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite: lint, the docs site build, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> ruff"
.venv/bin/ruff check src tests benchmarks examples
echo "==> mkdocs build --strict"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet   # into site/ (git-ignored)
echo "==> pytest"
.venv/bin/python -m pytest "$@"
