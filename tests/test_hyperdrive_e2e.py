"""A real sweep through the real agent: trials are real runs of a real script, tracked in the
workspace's store, queried through HyperDriveRun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scriptrun import Experiment, ScriptRunConfig
from scriptrun.hyperdrive.plot import PLOT_FILE
from scriptrun.train.hyperdrive import (
    GridParameterSampling,
    HyperDriveConfig,
    HyperDriveRun,
    PrimaryMetricGoal,
    choice,
)

pytestmark = pytest.mark.slow

TRAIN = """
import argparse, json, os
from scriptrun import Run

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--epochs", type=int, default=2)
args = parser.parse_args()
assert json.loads(os.environ["SCRIPTRUN_HYPERPARAMETERS"]) == {"--x": args.x}, os.environ["SCRIPTRUN_HYPERPARAMETERS"]
run = Run.get_context()
for epoch in range(1, args.epochs + 1):
    run.log("accuracy", args.x * epoch)
    run.log("loss", 1 - args.x)
"""


def test_a_grid_sweep_runs_every_trial_and_finds_the_best(shared_ws, project, tmp_path):
    src = ScriptRunConfig(source_directory=str(project(train=TRAIN)), script="train.py", arguments=["--epochs", 2])
    hdc = HyperDriveConfig(GridParameterSampling({"--x": choice(0.1, 0.9, 0.5)}), "accuracy",
                           PrimaryMetricGoal.MAXIMIZE, max_total_runs=10, max_concurrent_runs=2, run_config=src)
    run = Experiment(shared_ws, "sweep-e2e").submit(hdc)
    assert isinstance(run, HyperDriveRun) and run.id.startswith("HD_")
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Completed", details
    children = {c.id: c for c in run.get_children()}
    assert sorted(children) == [f"{run.id}_{i}" for i in range(3)]
    assert all(c.get_status() == "Completed" for c in children.values())
    hyperparameters = run.get_hyperparameters()
    assert json.loads(hyperparameters[f"{run.id}_1"]) == {"--x": 0.9}
    best = run.get_best_run_by_primary_metric()
    assert best is not None and best.id == f"{run.id}_1"
    rows = run.get_children_sorted_by_primary_metric()
    assert [r["best_primary_metric"] for r in rows] == pytest.approx([1.8, 1.0, 0.2])
    assert run.get_metrics()[f"{run.id}_2"]["accuracy"] == pytest.approx([0.5, 1.0])
    again = HyperDriveRun(run.experiment, run.id)  # rehydrated by id: knows its primary metric
    assert again.get_best_run_by_primary_metric().id == best.id
    assert PLOT_FILE in run.get_file_names()  # the primary metric over trials and intervals, in MLflow
    png = Path(run.download_file(PLOT_FILE, tmp_path / PLOT_FILE)).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


def test_a_misspelt_metric_fails_the_sweep_fast(shared_ws, project):
    src = ScriptRunConfig(source_directory=str(project(train=TRAIN)), script="train.py")
    hdc = HyperDriveConfig(GridParameterSampling({"--x": choice(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)}), "acuracy",
                           "maximize", max_total_runs=6, max_concurrent_runs=1, run_config=src)
    run = Experiment(shared_ws, "sweep-e2e").submit(hdc)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "did you mean `accuracy`?" in details["error"]["message"]
    assert len(list(run.get_children())) == 1


RESUMABLE = TRAIN.replace('parser.add_argument("--epochs", type=int, default=2)',
                          'parser.add_argument("--epochs", type=int, default=2)\n'
                          'parser.add_argument("--resume-from", default=None)') + """
os.makedirs("outputs", exist_ok=True)
open("outputs/ckpt.txt", "w").write(str(args.x))
if args.resume_from:
    run.log("resumed_from_x", float(open(os.path.join(args.resume_from, "ckpt.txt")).read()))
"""


def test_warm_start_and_resumed_child_runs(shared_ws, project):
    folder = str(project(train=RESUMABLE))
    first = Experiment(shared_ws, "sweep-e2e").submit(HyperDriveConfig(
        GridParameterSampling({"--x": choice(0.3, 0.7)}), "accuracy", "maximize", max_total_runs=2,
        run_config=ScriptRunConfig(source_directory=folder, script="train.py")))
    assert first.wait_for_completion(raise_on_error=False)["status"] == "Completed"
    best = first.get_best_run_by_primary_metric()
    second = Experiment(shared_ws, "sweep-e2e").submit(HyperDriveConfig(
        GridParameterSampling({"--x": choice(0.3, 0.7, 0.9)}), "accuracy", "maximize", max_total_runs=2,
        run_config=ScriptRunConfig(source_directory=folder, script="train.py"), resume_from=first,
        resume_child_runs=[best]))
    details = second.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Completed", details
    resumed = HyperDriveRun(second.experiment, second.id).get_metrics()[f"{second.id}_0"]
    assert resumed["resumed_from_x"] == pytest.approx(0.7)
    assert len(list(second.get_children())) == 2  # the warm-start trials do not count
