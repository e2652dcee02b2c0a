"""The SweepController, driven by the stand-in host: every policy stops a bad trial early and
lets a good one finish, the misspelt-metric sweep fails fast with a did-you-mean, limits and
failures, values reaching the script, and crash recovery without lost, repeated or changed trials."""

from __future__ import annotations

import json

import pytest

from scriptrun.agent.controllers import ChildInfo, FinishParent, SubmitChild, UpdateParent
from scriptrun.hyperdrive.controller import SweepController
from scriptrun.hyperdrive.trial import HYPERPARAMETERS_ENV, trial_spec
from scriptrun.train.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    RandomParameterSampling,
    TruncationSelectionPolicy,
    choice,
    uniform,
)
from test_hyperdrive_host import SweepHost, make_controller

QUALITY = GridParameterSampling({"--quality": choice(0.2, 0.5, 0.9)})


def _curve(hp, k):
    """A learning curve: accuracy grows with the interval, proportional to the trial's quality."""
    return hp["--quality"] * k / 10


def _by_quality(host):
    return {json.loads(c.request.properties["hyperparameters"])["--quality"]: c for c in host.children.values()}


def _policy_sweep(policy, objective=_curve, goal="maximize", crash_every=None):
    host = SweepHost(make_controller(QUALITY, policy=policy, goal=goal, total=3, concurrent=3), objective,
                     intervals=10, crash_every=crash_every)
    assert host.run().status == "Completed"
    return _by_quality(host), host


def test_bandit_slack_factor_stops_the_bad_trials_at_once_and_keeps_the_good_one():
    trials, host = _policy_sweep(BanditPolicy(slack_factor=0.2))
    for q in (0.2, 0.5):
        assert trials[q].status == "Canceled"
        assert len(trials[q].values) == 1
        assert "BanditPolicy(slack_factor=0.2) at interval 1" in trials[q].cancel_reason
    assert trials[0.9].status == "Completed" and len(trials[0.9].values) == 10
    stopped = [t for t in host.summary()["trials"] if t["stop_reason"]]
    assert len(stopped) == 2


def test_bandit_slack_amount_keeps_a_trial_within_the_slack():
    trials, _ = _policy_sweep(BanditPolicy(slack_amount=0.45, delay_evaluation=2), lambda hp, k: hp["--quality"])
    assert trials[0.2].status == "Canceled" and len(trials[0.2].values) == 2  # not before the delay
    assert "below 0.45" in trials[0.2].cancel_reason
    assert trials[0.5].status == trials[0.9].status == "Completed"


def test_bandit_minimize():
    trials, _ = _policy_sweep(BanditPolicy(slack_factor=0.2), lambda hp, k: 1 - hp["--quality"], goal="minimize")
    assert trials[0.5].status == trials[0.2].status == "Canceled"
    assert "above 0.12" in trials[0.5].cancel_reason
    assert trials[0.9].status == "Completed"


def test_median_stopping_waits_for_the_delay_then_stops_below_the_median():
    trials, _ = _policy_sweep(MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5))
    assert trials[0.2].status == "Canceled" and len(trials[0.2].values) == 5
    assert "median of running averages" in trials[0.2].cancel_reason
    assert trials[0.5].status == trials[0.9].status == "Completed"
    assert len(trials[0.9].values) == 10


def test_truncation_selection_stops_the_worst_third():
    trials, _ = _policy_sweep(TruncationSelectionPolicy(truncation_percentage=34, evaluation_interval=2))
    assert trials[0.2].status == "Canceled" and len(trials[0.2].values) == 2
    assert "among the worst 1 of 3" in trials[0.2].cancel_reason
    assert trials[0.5].status == trials[0.9].status == "Completed"


def test_no_termination_policy_lets_every_trial_finish():
    trials, _ = _policy_sweep(NoTerminationPolicy())
    assert all(t.status == "Completed" and len(t.values) == 10 for t in trials.values())


def test_a_misspelt_primary_metric_fails_the_sweep_at_the_first_completed_trial():
    host = SweepHost(make_controller(RandomParameterSampling({"--x": uniform(0, 1)}), metric="acuracy", total=20,
                                     concurrent=2), lambda hp, k: hp["--x"], intervals=3, metric="accuracy",
                     extra_metrics=("loss",))
    finish = host.run()
    assert finish.status == "Failed"
    assert finish.error["code"] == "PrimaryMetricNotLogged"
    message = finish.error["message"]
    assert "'acuracy'" in message and "'accuracy', 'loss'" in message
    assert "did you mean `accuracy`?" in message
    assert len(host.children) == 2  # not 20 trials burnt
    statuses = sorted(c.status for c in host.children.values())
    assert statuses == ["Canceled", "Completed"]
    assert host.summary()["end_reason"] == "the primary metric was never logged"


def test_failed_trials_do_not_stop_the_sweep_unless_all_fail():
    grid = GridParameterSampling({"--a": choice(1, 2, 3, 4)})
    host = SweepHost(make_controller(grid, total=4, concurrent=2), lambda hp, k: hp["--a"],
                     fail=lambda hp: hp["--a"] in (1, 3))
    assert host.run().status == "Completed"
    assert sorted(c.status for c in host.children.values()) == ["Completed", "Completed", "Failed", "Failed"]
    everything = SweepHost(make_controller(grid, total=4, concurrent=2), lambda hp, k: 1.0, fail=lambda hp: True)
    finish = everything.run()
    assert finish.status == "Failed" and finish.error["code"] == "AllTrialsFailed"
    assert "all 4 trials failed" in finish.error["message"] and "boom" in finish.error["message"]


def test_concurrency_and_total_limits():
    host = SweepHost(make_controller(RandomParameterSampling({"--x": uniform(0, 1)}), total=7, concurrent=3),
                     lambda hp, k: hp["--x"], intervals=2)
    host.run()
    assert len(host.children) == 7
    assert host.max_running == 3
    assert host.controller.max_concurrent_children == 3


def test_max_duration_cancels_running_trials_and_starts_no_more():
    host = SweepHost(make_controller(RandomParameterSampling({"--x": uniform(0, 1)}), total=50, concurrent=2,
                                     duration=3 / 60), lambda hp, k: hp["--x"], intervals=100)
    finish = host.run()
    assert finish.status == "Completed"
    assert len(host.children) == 2
    assert all(c.status == "Canceled" and "max_duration_minutes" in c.cancel_reason for c in host.children.values())
    assert host.summary()["end_reason"] == "max_duration_minutes=0.05 reached"


def test_best_child_is_recorded_on_the_parent_as_it_improves():
    grid = GridParameterSampling({"--a": choice(3, 1, 5, 2)})
    host = SweepHost(make_controller(grid, total=4, concurrent=1), lambda hp, k: float(hp["--a"]))
    host.run()
    best = [(u.tags["best_child_run_id"], u.metrics["best_child_by_primary_metric"]) for u in host.updates if u.metrics]
    assert best == [("HD_test_0", 3.0), ("HD_test_2", 5.0)]
    summary = host.summary()
    assert summary["best"] == {"run_id": "HD_test_2", "value": 5.0}
    assert [t["best_primary_metric"] for t in summary["trials"]] == [5.0, 3.0, 2.0, 1.0]
    final = [u for u in host.updates if u.properties]
    assert final[-1].properties["best_child_run_id"] == "HD_test_2"
    tags = {k: v for u in host.updates for k, v in u.tags.items() if k.startswith("_aml_system_")}
    assert json.loads(tags["_aml_system_HD_test_1"]) == {"--a": 1}


def test_values_reach_the_script_as_v1():
    base = {"source_directory": "/s", "script": "train.py", "arguments": ["--epochs", 3],
            "environment_variables": {"A": "1"}}
    spec = trial_spec(base, {"--lr": 0.01, "batch_size": 32, "act": "relu"})
    assert spec["arguments"] == ["--epochs", 3, "--lr", "0.01", "--batch_size", "32", "--act", "relu"]
    assert json.loads(spec["environment_variables"][HYPERPARAMETERS_ENV]) == {"--lr": 0.01, "batch_size": 32,
                                                                               "act": "relu"}
    assert spec["environment_variables"]["A"] == "1" and base["arguments"] == ["--epochs", 3]
    listed = trial_spec({"source_directory": "/s", "command": ["python", "t.py"]}, {"x": 1.5})
    assert listed["command"] == ["python", "t.py", "--x", "1.5"] and "arguments" not in listed
    shell = trial_spec({"source_directory": "/s", "command": "python t.py"}, {"--name": "a b"})
    assert shell["command"] == "python t.py --name 'a b'"
    resumed = trial_spec(base, {"x": 1}, resume_from={"url": "/old/outputs"})
    assert resumed["resume_from"] == {"url": "/old/outputs"}


def test_child_requests_carry_ids_tags_properties_and_the_snapshot():
    controller = make_controller(GridParameterSampling({"lr": choice(0.1, 0.2)}), total=2, concurrent=2)
    actions = controller.start()
    assert isinstance(actions[0], UpdateParent)
    assert json.loads(actions[0].tags["_aml_system_HD_test_1"]) == {"lr": 0.2}
    requests = [a.request for a in actions if isinstance(a, SubmitChild)]
    assert [r.run_id for r in requests] == ["HD_test_0", "HD_test_1"]
    assert requests[0].snapshot_id == "snap1"
    assert requests[0].properties == {"hyperparameters": '{"lr": 0.1}', "hyperdrive_trial_index": "0"}
    assert requests[0].tags == {"hyperparameters": '{"lr": 0.1}'}
    assert requests[1].spec["arguments"] == ["--epochs", "3", "--lr", "0.2"]
    assert controller.start() == []  # repeated start issues nothing new


def test_resumed_child_runs_come_first_with_resume_from():
    resume = [{"hyperparameters": {"--x": 0.25}, "resume_from": {"url": "/ws/resume/old_3/outputs"},
               "run_id": "old_3"}]
    controller = make_controller(RandomParameterSampling({"--x": uniform(0, 1)}), total=3, concurrent=1,
                                 resume_trials=resume)
    request = next(a.request for a in controller.start() if isinstance(a, SubmitChild))
    assert request.spec["resume_from"] == {"url": "/ws/resume/old_3/outputs"}
    assert request.spec["arguments"][-2:] == ["--x", "0.25"]
    assert request.properties["resumed_from_run_id"] == "old_3"


def test_cancel_finishes_canceled_once_the_running_trials_have_ended():
    controller = make_controller(RandomParameterSampling({"--x": uniform(0, 1)}), total=10, concurrent=2)
    controller.start()
    assert controller.cancel() == []  # trials still running: the host cancels them
    controller.on_child_status(ChildInfo("HD_test_0", "Canceled"))
    actions = controller.on_child_status(ChildInfo("HD_test_1", "Canceled"))
    assert not any(isinstance(a, SubmitChild) for a in actions)
    assert actions[-1] == FinishParent("Canceled", None)
    assert controller.on_child_status(ChildInfo("HD_test_1", "Canceled")) == []


@pytest.mark.parametrize("sampling", [
    RandomParameterSampling({"--x": uniform(0, 1), "--q": choice(0.2, 0.5, 0.9)}),
    BayesianParameterSampling({"--x": uniform(0, 1), "--q": choice(0.2, 0.5, 0.9)}),
])
def test_crash_and_recovery_mid_sweep_loses_repeats_and_changes_no_trial(sampling):
    policy = BanditPolicy(slack_factor=0.3) if isinstance(sampling, RandomParameterSampling) else None

    def objective(hp, k):
        return hp["--q"] * hp["--x"] * k / 5

    runs = []
    for crash_every in (None, 1, 3):
        host = SweepHost(make_controller(sampling, policy=policy, total=9, concurrent=3), objective, intervals=5,
                         crash_every=crash_every)
        finish = host.run()
        runs.append((finish, host.hyperparameters(), {r: (c.status, len(c.values)) for r, c in host.children.items()}))
        if crash_every:
            assert host.crashes == host.steps // crash_every >= 1
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0][1]) == 9


def test_metric_records_delivered_twice_are_counted_once():
    controller = make_controller(RandomParameterSampling({"--x": uniform(0, 1)}), total=1, concurrent=1)
    controller.start()
    records = [{"k": "m", "n": "accuracy", "v": 0.5, "s": 1, "t": 10}, {"k": "m", "n": "accuracy", "v": 0.6, "t": 11},
               {"k": "m", "n": "accuracy", "v": "n/a", "t": 12}, {"k": "tag", "n": "x", "v": 1, "t": 13}]
    controller.on_metrics("HD_test_0", records)
    controller.on_metrics("HD_test_0", records)
    controller.on_metrics("HD_test_0", [{"k": "m", "n": "accuracy", "v": 0.5, "s": 1, "t": 14}])
    assert controller.trials[0].values == [0.5, 0.6, 0.5]
    assert controller.on_metrics("someone_else", records) == []


def test_state_is_json_and_round_trips():
    controller = make_controller(BayesianParameterSampling({"--x": uniform(0, 1)}), total=4, concurrent=2)
    controller.start()
    controller.on_metrics("HD_test_0", [{"k": "m", "n": "accuracy", "v": 0.5, "t": 1}])
    controller.on_child_status(ChildInfo("HD_test_0", "Completed"))
    state = json.loads(json.dumps(controller.to_state()))
    again = SweepController.from_state(state)
    assert again.to_state() == state
    with pytest.raises(ValueError, match="unsupported sweep state version"):
        SweepController.from_state({**state, "version": 99})


def test_the_end_of_a_sweep_draws_its_plot_and_passes_on_metrics_and_the_best_trials_outputs():
    import base64

    from matplotlib.image import imread

    controller = make_controller(QUALITY, total=3, concurrent=3)
    controller.step_outputs = {"metrics_output": {"name": "metrics", "datastore": None, "path": "m/{run-id}"},
                               "outputs": ["model"]}
    host = SweepHost(controller, _curve, intervals=2, extra_metrics=("loss",))
    original = host.controller.on_child_status

    def with_outputs(child):  # each trial reports its own model output, as the agent does
        if child.status == "Completed":
            child = ChildInfo(child.run_id, child.status, output_datasets=[
                {"outputDetails": {"outputName": "model", "path": f"models/{child.run_id}"}}])
        return original(child)

    host.controller.on_child_status = with_outputs
    assert host.run().status == "Completed"
    final = [u for u in host.updates if u.images]
    assert len(final) == 1
    png = base64.b64decode(final[0].images["sweep_primary_metric.png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    import io

    assert imread(io.BytesIO(png)).shape[1] > 500
    outputs = final[0].outputs
    best = controller.best["run_id"]
    assert outputs["model"]["outputDetails"]["path"] == f"models/{best}"  # the best trial's
    metrics = json.loads(outputs["metrics"]["files"]["metrics.json"])
    assert sorted(metrics) == ["HD_test_0", "HD_test_1", "HD_test_2"]
    assert metrics[best] == {"accuracy": pytest.approx([0.09, 0.18]), "loss": [0.5, 0.5]}
