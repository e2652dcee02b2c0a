"""HyperDriveConfig's v1 validation (every problem at once), policy argument checks, and v1's
CLI HyperDrive YAML with errors at file:line."""

from __future__ import annotations

import textwrap

import pytest

from scriptrun import ScriptRunConfig
from scriptrun.errors import ConfigError
from scriptrun.train.hyperdrive import (
    MAX_DURATION_MINUTES,
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    HyperDriveRunConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    TruncationSelectionPolicy,
    choice,
    load_hyperdrive_yaml,
    uniform,
)

SAMPLING = RandomParameterSampling({"--lr": uniform(0.001, 0.1)})


def _src() -> ScriptRunConfig:
    return ScriptRunConfig(source_directory=".", script="train.py")


def test_defaults_as_v1():
    hdc = HyperDriveConfig(SAMPLING, "accuracy", PrimaryMetricGoal.MAXIMIZE, 20, run_config=_src())
    assert hdc.max_concurrent_runs == 20
    assert hdc.max_duration_minutes == MAX_DURATION_MINUTES == 10080
    assert isinstance(hdc.policy, NoTerminationPolicy)
    assert hdc._definition()["primary_metric_config"] == {"name": "accuracy", "goal": "maximize"}
    assert HyperDriveConfig(SAMPLING, "loss", "MiniMize", 1, run_config=_src()).primary_metric_goal \
        is PrimaryMetricGoal.MINIMIZE


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        HyperDriveConfig(None, "", "upwards", 0, max_concurrent_runs=0, max_duration_minutes=-1,
                         policy="bandit", custom_run_id="bad id!")
    paths = info.value.paths()
    assert paths == ["run_config", "hyperparameter_sampling", "primary_metric_name", "primary_metric_goal",
                     "max_total_runs", "max_concurrent_runs", "max_duration_minutes", "policy", "custom_run_id"]
    assert "use PrimaryMetricGoal.MAXIMIZE or PrimaryMetricGoal.MINIMIZE" in str(info.value)


def test_the_job_rules():
    with pytest.raises(ConfigError, match="only one of estimator, run_config and pipeline"):
        HyperDriveConfig(SAMPLING, "a", "maximize", 2, run_config=_src(), estimator=object())
    with pytest.raises(ConfigError, match="sweeping a pipeline is not supported"):
        HyperDriveConfig(SAMPLING, "a", "maximize", 2, pipeline=object())
    with pytest.raises(ConfigError, match="expected a ScriptRunConfig, got RunConfiguration"):
        from scriptrun import RunConfiguration

        HyperDriveConfig(SAMPLING, "a", "maximize", 2, run_config=RunConfiguration())
    with pytest.raises(ConfigError, match="expected an Estimator"):
        HyperDriveConfig(SAMPLING, "a", "maximize", 2, estimator=object())

    class Estimator:
        def to_script_run_config(self) -> ScriptRunConfig:
            return _src()

    hdc = HyperDriveConfig(SAMPLING, "a", "maximize", 2, estimator=Estimator())
    assert hdc._script_run_config().script == "train.py"


def test_limits_and_warnings():
    with pytest.raises(ConfigError, match="from 1 to 1000"):
        HyperDriveConfig(SAMPLING, "a", "maximize", 1001, run_config=_src())
    with pytest.raises(ConfigError, match="from 1 to 100"):
        HyperDriveConfig(SAMPLING, "a", "maximize", 10, max_concurrent_runs=101, run_config=_src())
    with pytest.warns(UserWarning, match="capped at 10080"):
        hdc = HyperDriveConfig(SAMPLING, "a", "maximize", 10, max_duration_minutes=20000, run_config=_src())
    assert hdc.max_duration_minutes == 10080
    bayes = BayesianParameterSampling({"--x": uniform(0, 1), "--y": choice(1, 2)})
    with pytest.warns(UserWarning, match="at least 40 runs"):
        HyperDriveConfig(bayes, "a", "maximize", 30, max_concurrent_runs=5, run_config=_src())
    with pytest.warns(UserWarning, match="more than 20 concurrent runs"):
        HyperDriveConfig(bayes, "a", "maximize", 40, max_concurrent_runs=30, run_config=_src())
    with pytest.warns(DeprecationWarning, match="use HyperDriveConfig"):
        HyperDriveRunConfig(SAMPLING, "a", "maximize", 2, run_config=_src())


def test_resume_rules():
    with pytest.raises(ConfigError) as info:
        HyperDriveConfig(SAMPLING, "a", "maximize", 2, run_config=_src(), resume_from=["HD_1"],
                         resume_child_runs=[3])
    assert info.value.paths() == ["resume_from[0]", "resume_child_runs[0]"]


@pytest.mark.parametrize("make, words", [
    (lambda: BanditPolicy(), "exactly one of slack_factor and slack_amount"),
    (lambda: BanditPolicy(slack_factor=0.1, slack_amount=0.2), "not both"),
    (lambda: BanditPolicy(slack_factor=-1), "must be a number >= 0"),
    (lambda: BanditPolicy(evaluation_interval=1.5, slack_factor=0.1), "evaluation_interval"),
    (lambda: MedianStoppingPolicy(delay_evaluation=-1), "delay_evaluation"),
    (lambda: TruncationSelectionPolicy(0), "from 1 to 99"),
    (lambda: TruncationSelectionPolicy(100), "from 1 to 99"),
    (lambda: TruncationSelectionPolicy(20.0), "from 1 to 99"),
])
def test_policy_argument_checks(make, words):
    with pytest.raises(ConfigError, match=words):
        make()


def test_policy_json_is_v1s():
    assert BanditPolicy(slack_factor=0.2).to_json() == {
        "name": "Bandit", "properties": {"evaluation_interval": 1, "delay_evaluation": 0, "slack_factor": 0.2}}
    assert MedianStoppingPolicy().to_json()["properties"] == {"evaluation_interval": 1, "delay_evaluation": 5}
    assert TruncationSelectionPolicy(20).to_json()["properties"]["exclude_finished_jobs"] is False
    assert NoTerminationPolicy().to_json() == {"name": "Default", "properties": {}}
    assert GridParameterSampling({"a": choice(1)}).to_json() == {"name": "GRID",
                                                                 "parameter_space": {"a": ["choice", [[1]]]}}


GOOD = """\
sampling:
  type: Random
  parameter_space:
  - name: --penalty
    expression: choice
    values: [0.5, 1, 1.5]
  - name: learning_rate
    expression: loguniform
    values: [-6, -1]
policy:
  type: BanditPolicy
  evaluation_interval: 1
  slack_factor: 0.2
primary_metric_name: Accuracy
primary_metric_goal: Maximize
max_total_runs: 8
max_concurrent_runs: 2
max_duration_minutes: 100
"""


def _write(tmp_path, text):
    path = tmp_path / "sweep.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_v1_yaml_loads(tmp_path):
    loaded = load_hyperdrive_yaml(_write(tmp_path, GOOD))
    assert isinstance(loaded.sampling, RandomParameterSampling)
    assert loaded.sampling.parameter_space == {"--penalty": ["choice", [[0.5, 1, 1.5]]],
                                               "learning_rate": ["loguniform", [-6, -1]]}
    assert loaded.policy == BanditPolicy(evaluation_interval=1, slack_factor=0.2)
    assert (loaded.primary_metric_name, loaded.primary_metric_goal) == ("Accuracy", PrimaryMetricGoal.MAXIMIZE)
    assert (loaded.max_total_runs, loaded.max_concurrent_runs, loaded.max_duration_minutes) == (8, 2, 100)
    hdc = loaded.to_config(run_config=_src())
    assert hdc.max_total_runs == 8 and hdc.policy == loaded.policy


def test_v1_yaml_defaults(tmp_path):
    text = GOOD.replace("max_duration_minutes: 100\n", "")
    text = text[:text.index("policy:")] + text[text.index("primary_metric_name"):]
    loaded = load_hyperdrive_yaml(_write(tmp_path, text))
    assert isinstance(loaded.policy, NoTerminationPolicy)
    assert loaded.max_duration_minutes == 10080  # v1's CLI raised TypeError here


def test_v1_yaml_errors_carry_file_line_and_hint(tmp_path):
    bad = """\
    sampling:
      type: randm
      parameter_space:
      - name: --lr
        expression: uniform
        values: [5, 1]
      - name: --b
        expresion: choice
    policy:
      type: BanditPolicy
      evaluation_interval: 1
    primary_metric_nam: Accuracy
    primary_metric_goal: Maximize
    max_total_runs: 0
    """
    path = _write(tmp_path, bad)
    with pytest.raises(ConfigError) as info:
        load_hyperdrive_yaml(path)
    problems = {p.path: p for p in info.value.problems}
    assert all(p.file == str(path) for p in problems.values())
    assert problems["primary_metric_nam"].line == 12
    assert problems["primary_metric_nam"].hint == "did you mean `primary_metric_name`?"
    assert problems["primary_metric_name"].message == "required key is missing"
    assert problems["sampling.type"].line == 2 and "did you mean `random`?" in problems["sampling.type"].hint
    assert problems["sampling.parameter_space[0].values"].line == 6
    assert "min_value must be < max_value" in problems["sampling.parameter_space[0].values"].message
    assert problems["sampling.parameter_space[1].expresion"].line == 8
    assert problems["policy.slack_factor"].line == 9  # the policy block: the key is missing
    assert problems["max_total_runs"].line == 14
    rendered = str(info.value)
    assert f"{path}:12: primary_metric_nam: unknown key" in rendered


def test_v1_yaml_sampler_rules_point_at_the_expression_line(tmp_path):
    text = GOOD.replace("type: Random", "type: grid").replace("policy:\n  type: BanditPolicy\n"
                                                              "  evaluation_interval: 1\n  slack_factor: 0.2\n", "")
    with pytest.raises(ConfigError) as info:
        load_hyperdrive_yaml(_write(tmp_path, text))
    [problem] = info.value.problems
    assert problem.path == "sampling.parameter_space[1].expression"
    assert problem.line == 8
    assert "GridParameterSampling does not support loguniform()" in problem.message


def test_v1_yaml_wrong_argument_count_and_unknown_policy_key(tmp_path):
    text = GOOD.replace("values: [-6, -1]", "values: [-6]").replace("slack_factor: 0.2", "slack_facter: 0.2")
    with pytest.raises(ConfigError) as info:
        load_hyperdrive_yaml(_write(tmp_path, text))
    problems = {p.path: p for p in info.value.problems}
    assert "wrong arguments" in problems["sampling.parameter_space[1].values"].message
    assert problems["policy.slack_facter"].hint == "did you mean `slack_factor`?"
    assert problems["policy.slack_facter"].line == 13
