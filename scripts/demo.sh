#!/usr/bin/env bash
# Set up (idempotent), then run the bundled example job end to end on the embedded default:
# a workspace in ./.scriptrun, MLflow on SQLite, the local agent. Prints the run's log and
# the run table; `scriptrun ui` then shows it in MLflow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> scriptrun run submit-script -c examples/quickstart/job.yml -e quickstart"
.venv/bin/scriptrun run submit-script -c examples/quickstart/job.yml -e quickstart
echo "==> scriptrun run list"
.venv/bin/scriptrun run list --last 5
