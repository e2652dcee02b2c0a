"""The three samplers, each driven through a real SweepController by the stand-in host:
seeded random reproducible, grid product capped by max_total_runs, Bayesian (optuna TPE)
beating random on a 1-D quadratic in a fixed number of trials."""

from __future__ import annotations

import pytest

from scriptrun.errors import ConfigError
from scriptrun.train.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    RandomParameterSampling,
    choice,
    loguniform,
    normal,
    quniform,
    randint,
    uniform,
)
from test_hyperdrive_host import SweepHost, make_controller

SPACE = {"--lr": loguniform(-6, -1), "batch": choice(16, 32, 64), "--seed": randint(1000), "--m": normal(0, 1)}


def _sweep(sampling, **kwargs):
    host = SweepHost(make_controller(sampling, **kwargs), lambda hp, k: 0.5)
    finish = host.run()
    return host, finish


def test_random_with_a_seed_is_reproducible_and_without_one_is_not():
    a, _ = _sweep(RandomParameterSampling(SPACE, properties={"rng_seed": 3}), seed=3, total=6)
    b, _ = _sweep(RandomParameterSampling(SPACE, properties={"rng_seed": 3}), seed=3, total=6)
    c, _ = _sweep(RandomParameterSampling(SPACE), seed=4, total=6)
    assert a.hyperparameters() == b.hyperparameters()
    assert a.hyperparameters() != c.hyperparameters()
    assert len({str(h) for h in a.hyperparameters()}) == 6
    assert [c.request.run_id for c in a.children.values()] == [f"HD_test_{i}" for i in range(6)]


def test_grid_runs_the_whole_product_once_and_is_capped_by_max_total_runs():
    grid = GridParameterSampling({"--a": choice(1, 2, 3), "--b": choice("x", "y")})
    host, finish = _sweep(grid, total=100, concurrent=4)
    points = [(h["--a"], h["--b"]) for h in host.hyperparameters()]
    assert sorted(points) == sorted((a, b) for a in (1, 2, 3) for b in ("x", "y"))
    assert finish.status == "Completed"
    capped, _ = _sweep(grid, total=4)
    assert len(capped.hyperparameters()) == 4
    assert len({str(h) for h in capped.hyperparameters()}) == 4


def test_grid_accepts_only_choice():
    with pytest.raises(ConfigError) as info:
        GridParameterSampling({"--lr": uniform(0, 1), "--b": choice(1, 2)})
    assert info.value.paths() == ["parameter_space.--lr"]
    assert "does not support uniform()" in str(info.value)


def test_bayesian_restrictions_as_v1():
    with pytest.raises(ConfigError) as info:
        BayesianParameterSampling({"--lr": loguniform(-3, 0), "--mix": choice(1, "a"), "--q": quniform(0, 1.5, 1),
                                   "x": [1, 2]})
    text = str(info.value)
    assert "does not support loguniform()" in text
    assert "all strings or no strings" in text
    assert "must all be ints" in text
    assert "wrap the values in choice(...)" in text
    assert len(info.value.problems) == 4


def test_bayesian_rejects_an_early_termination_policy():
    with pytest.raises(ConfigError) as info:
        HyperDriveConfig(BayesianParameterSampling({"--x": uniform(0, 1)}), "loss", "minimize", 40,
                         policy=BanditPolicy(slack_factor=0.1), run_config=_src())
    assert info.value.paths() == ["policy"]
    assert "does not support early termination" in str(info.value)


def _src():
    from scriptrun import ScriptRunConfig

    return ScriptRunConfig(source_directory=".", script="train.py")


def _quadratic(hp, k):
    return (hp["--x"] - 3.0) ** 2


def test_bayesian_beats_random_on_a_quadratic_in_30_trials():
    """Seeded: TPE (5 random start-up trials, then learned) against pure random sampling, each
    with 30 sequential trials minimising (x - 3)^2 over x in [-10, 10]."""
    wins = 0
    for seed in (1, 2, 3):
        space = {"--x": uniform(-10, 10)}
        bayes = SweepHost(make_controller(BayesianParameterSampling(space), goal="minimize", metric="loss",
                                          total=30, concurrent=1, seed=seed), _quadratic)
        rand = SweepHost(make_controller(RandomParameterSampling(space), goal="minimize", metric="loss",
                                         total=30, concurrent=1, seed=seed), _quadratic)
        assert bayes.run().status == rand.run().status == "Completed"
        assert len(bayes.children) == len(rand.children) == 30
        best_b, best_r = bayes.best_value("minimize"), rand.best_value("minimize")
        print(f"seed {seed}: bayesian best {best_b:.2e}, random best {best_r:.2e}")
        wins += best_b < best_r
        assert best_b < 0.05
    assert wins >= 2


def test_bayesian_quniform_and_choice_and_concurrency():
    space = {"--units": quniform(16, 256, 16), "--act": choice("relu", "tanh"), "--x": uniform(0, 1)}
    host = SweepHost(make_controller(BayesianParameterSampling(space), total=12, concurrent=3),
                     lambda hp, k: hp["--x"] + hp["--units"] / 256)
    assert host.run().status == "Completed"
    points = host.hyperparameters()
    assert all(isinstance(p["--units"], int) and p["--units"] % 16 == 0 and 16 <= p["--units"] <= 256
               for p in points)
    assert {p["--act"] for p in points} <= {"relu", "tanh"}
    assert len({str(p) for p in points}) == 12  # concurrent suggestions are spread apart
    assert host.max_running == 3


def test_warm_start_history_feeds_the_sampler_but_not_the_trial_count():
    space = {"--x": uniform(-10, 10)}
    history = [{"hyperparameters": {"--x": x}, "value": (x - 3) ** 2, "run_id": f"old_{i}"}
               for i, x in enumerate([-9.0, -5.0, 0.0, 2.5, 2.9, 3.2, 4.0, 8.0])]
    warm = SweepHost(make_controller(BayesianParameterSampling(space), goal="minimize", metric="loss", total=5,
                                     concurrent=1, seed=5, history=history), _quadratic)
    cold = SweepHost(make_controller(BayesianParameterSampling(space), goal="minimize", metric="loss", total=5,
                                     concurrent=1, seed=5), _quadratic)
    warm.run()
    cold.run()
    assert len(warm.children) == 5
    assert warm.best_value("minimize") < cold.best_value("minimize")
    assert warm.summary()["warm_start_trials"] == 8
