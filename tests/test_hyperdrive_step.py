"""HyperDriveStep and EstimatorStep in real pipelines on the real agent and MLflow store: the
sweep step's trials read their hyperparameters through ``Run.get_context()``, the next step
reads ``metrics_output`` and the best trial's output, and the sweep stores its plot."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from conftest import make_workspace, stop_agent
from scriptrun import ConfigError, Estimator, Experiment, OutputFileDatasetConfig, ScriptRunConfig
from scriptrun.hyperdrive.plot import PLOT_FILE
from scriptrun.pipeline.core import Pipeline, PipelineData
from scriptrun.pipeline.steps import EstimatorStep, HyperDriveStep, PythonScriptStep
from scriptrun.train.hyperdrive import GridParameterSampling, HyperDriveConfig, HyperDriveRun, choice

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TRAIN = """
import argparse, os
from scriptrun import Run
p = argparse.ArgumentParser()
p.add_argument("--model")
p.add_argument("--x", type=float)
args = p.parse_args()
run = Run.get_context()
assert run.get_hyperparameters() == {"--x": args.x}, run.get_hyperparameters()
for k in (1, 2):
    run.log("accuracy", args.x * k)
run.log("loss", 1 - args.x)
os.makedirs(args.model, exist_ok=True)
open(os.path.join(args.model, "model.txt"), "w").write(str(args.x))
"""

CONSUME = """
import json, os, sys
from scriptrun import Run
metrics = json.load(open(os.path.join(sys.argv[1], "metrics.json")))
run = Run.get_context()
run.log("trials", len(metrics))
run.log("best_accuracy", max(max(m["accuracy"]) for m in metrics.values()))
run.log("best_x", float(open(os.path.join(sys.argv[2], "model.txt")).read()))
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("hdstep") / "ws", max_concurrent_runs=3)
    yield ws
    stop_agent(ws)


@pytest.fixture(scope="module")
def code(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("code")
    (folder / "train.py").write_text(TRAIN)
    (folder / "consume.py").write_text(CONSUME)
    return folder


def sweep_pipeline(ws, code: Path) -> Pipeline:
    model, metrics = OutputFileDatasetConfig("model"), PipelineData("metrics")
    src = ScriptRunConfig(str(code), "train.py", arguments=["--model", model])  # each trial writes its model
    hdc = HyperDriveConfig(GridParameterSampling({"--x": choice(0.2, 0.9, 0.5)}), "accuracy", "maximize",
                           max_total_runs=3, max_concurrent_runs=3, run_config=src)
    sweep = HyperDriveStep("sweep", hdc, metrics_output=metrics)
    best_model = model.as_input("model")  # the best trial's
    consume = PythonScriptStep("consume.py", name="consume", arguments=[metrics, best_model],
                               inputs=[metrics, best_model], source_directory=str(code))
    return Pipeline(ws, [sweep, consume])


@pytest.mark.slow
def test_hyperdrive_step_feeds_metrics_and_the_best_trials_output_downstream(ws, code, tmp_path):
    run = sweep_pipeline(ws, code).submit("hd-step")
    details = run.wait_for_completion(show_output=False, raise_on_error=False)
    assert details["status"] == "Completed", details
    consume = run.find_step_run("consume")[0]
    metrics = consume.get_metrics()
    assert metrics["trials"] == 3
    assert metrics["best_accuracy"] == pytest.approx(1.8)
    assert metrics["best_x"] == pytest.approx(0.9)  # the model folder of the best trial
    step = run.find_step_run("sweep")[0]
    sweep = HyperDriveRun(step.experiment, step.id)  # the step is a sweep run with v1's queries
    assert sweep.get_best_run_by_primary_metric().id == f"{step.id}_1"
    assert len(list(sweep.get_children())) == 3
    folder = step.get_output_data("metrics").download(tmp_path / "m")
    trials = json.loads((Path(folder) / "metrics.json").read_text())
    assert trials[f"{step.id}_0"] == {"accuracy": pytest.approx([0.2, 0.4]), "loss": pytest.approx(0.8)}
    assert PLOT_FILE in step.get_file_names()  # the sweep's plot, an MLflow artifact of the step
    png = Path(step.download_file(PLOT_FILE, tmp_path / PLOT_FILE)).read_bytes()
    assert png.startswith(PNG_MAGIC)
    from matplotlib.image import imread

    assert imread(tmp_path / PLOT_FILE).shape[0] > 100  # decodes as an image

    again = sweep_pipeline(ws, code).submit("hd-step")  # nothing changed: the whole pipeline is reused
    assert again.wait_for_completion(show_output=False)["status"] == "Completed"
    info = again.get_reuse_info()
    assert info["sweep"]["reused"] and info["consume"]["reused"], info


@pytest.mark.slow
def test_estimator_step_runs_the_estimators_script_run_config(ws, code):
    with pytest.warns(DeprecationWarning):
        est = Estimator(str(code), entry_script="consume.py", compute_target="local")
    with pytest.warns(DeprecationWarning, match=r"PythonScriptStep\(name=\.\.\., script_run_config=src\)"):
        step = EstimatorStep("est", est, estimator_entry_script_arguments=["/nope", "/nope"])
    run = Pipeline(ws, [step]).submit("hd-step")
    details = run.wait_for_completion(show_output=False, raise_on_error=False)
    assert details["status"] == "Failed"  # consume.py on missing folders: the estimator's script really ran
    assert "step est failed (exit code 1)" in details["error"]["message"]
    spec = run.find_step_run("est")[0].get_details()
    assert spec["status"] == "Failed"


def test_estimator_step_and_hyperdrive_step_reject_bad_input(code):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        est = Estimator(str(code), entry_script="train.py", compute_target="local", script_params={"--x": 1})
        with pytest.raises(ConfigError) as exc:
            EstimatorStep("est", est)
    text = str(exc.value)
    assert "must not have script_params" in text and "estimator_entry_script_arguments" in text
    hdc = HyperDriveConfig(GridParameterSampling({"--x": choice(1, 2)}), "accuracy", "maximize", max_total_runs=2,
                           run_config=ScriptRunConfig(str(code), "train.py"))
    with pytest.raises(ConfigError, match="drop estimator_entry_script_arguments"):
        HyperDriveStep("s", hdc, estimator_entry_script_arguments=["--a"])
    with pytest.raises(ConfigError, match="metrics_output"):
        HyperDriveStep("s", hdc, metrics_output="metrics")
    with pytest.raises(ConfigError, match="hyperdrive_config"):
        HyperDriveStep("s", src := ScriptRunConfig(str(code), "train.py"))
    assert src.script == "train.py"


def test_the_same_step_reduces_to_the_estimators_spec(code, tmp_path):
    from scriptrun.workspace import Workspace

    ws = Workspace.create(tmp_path / "ws")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        est = Estimator(str(code), entry_script="consume.py", compute_target="local")
        by_estimator = Pipeline(ws, [EstimatorStep("s", est, estimator_entry_script_arguments=["a"])])
    src = est.to_script_run_config()
    src.arguments = ["a"]
    by_src = Pipeline(ws, [PythonScriptStep(name="s", script_run_config=src)])
    assert by_estimator._plan(snapshot=False)[0][0].spec == by_src._plan(snapshot=False)[0][0].spec
    hdc = HyperDriveConfig(GridParameterSampling({"--x": choice(1, 2)}), "accuracy", "maximize", max_total_runs=2,
                           run_config=ScriptRunConfig(str(code), "train.py"))
    with pytest.raises(ConfigError, match="HyperDriveStep cannot be written as pipeline YAML"):
        Pipeline(ws, [HyperDriveStep("tune", hdc)]).to_yaml()
    assert Experiment  # the flat names resolve
