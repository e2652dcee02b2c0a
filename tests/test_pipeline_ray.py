"""A pipeline step and a sweep's trials on the attached Ray test cluster: the same
ScriptRunConfig with ``compute_target`` set, nothing else changed; each ran as a Ray job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scriptrun import ComputeTarget, Experiment, RayCluster, ScriptRunConfig
from scriptrun.pipeline.core import Pipeline
from scriptrun.pipeline.steps import PythonScriptStep
from scriptrun.train.hyperdrive import GridParameterSampling, HyperDriveConfig, choice

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.ray]

TRAIN = """
    import argparse
    from scriptrun import Run
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float, default=0.5)
    x = p.parse_args().x
    run = Run.get_context()
    assert run.get_hyperparameters() in ({}, {"--x": x})
    run.log("score", x)
"""


@pytest.fixture(scope="module")
def target(shared_ws, ray_cluster) -> Iterator[str]:
    attached = ComputeTarget.attach(shared_ws, "ray-compose", RayCluster.attach_configuration(address=ray_cluster))
    yield "ray-compose"
    attached.detach()  # the workspace is shared with other modules (test_ray lists its targets)


def ray_status(address: str, run_id: str) -> str:
    from ray.job_submission import JobSubmissionClient

    return str(JobSubmissionClient(address).get_job_info(run_id).status)


def test_a_pipeline_step_runs_on_the_ray_cluster(shared_ws, target, ray_cluster, project):
    src = ScriptRunConfig(str(project(train=TRAIN)), "train.py", compute_target=target)
    local = ScriptRunConfig(str(project(train=TRAIN)), "train.py")
    on_ray, after = PythonScriptStep(name="on_ray", script_run_config=src), PythonScriptStep(
        name="local", script_run_config=local, allow_reuse=False)
    after.run_after(on_ray)
    run = Pipeline(shared_ws, [on_ray, after]).submit("ray-compose")
    assert run.wait_for_completion(show_output=False)["status"] == "Completed"
    step = run.find_step_run("on_ray")[0]
    assert step.get_details()["target"] == target
    assert ray_status(ray_cluster, step.id) == "SUCCEEDED"  # it ran as a Ray job
    assert step.get_metrics()["score"] == 0.5


def test_sweep_trials_run_on_the_ray_cluster(shared_ws, target, ray_cluster, project):
    src = ScriptRunConfig(str(project(train=TRAIN)), "train.py", compute_target=target)
    hdc = HyperDriveConfig(GridParameterSampling({"--x": choice(0.2, 0.7)}), "score", "maximize",
                           max_total_runs=2, max_concurrent_runs=2, run_config=src)
    run = Experiment(shared_ws, "ray-compose").submit(hdc)
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Completed"
    trials = sorted(run.get_children(), key=lambda r: r.id)
    assert [ray_status(ray_cluster, t.id) for t in trials] == ["SUCCEEDED", "SUCCEEDED"]
    assert run.get_best_run_by_primary_metric().id == f"{run.id}_1"
