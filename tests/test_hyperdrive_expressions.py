"""The ten parameter expressions: v1's shapes, argument checks, and the values they sample."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

from scriptrun.errors import ConfigError
from scriptrun.hyperdrive.expressions import sample
from scriptrun.train.hyperdrive.parameter_expressions import (
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
)


def test_shapes_are_v1s():
    assert choice(1, 2, 3) == ["choice", [[1, 2, 3]]]
    assert choice([1, 2, 3]) == ["choice", [[1, 2, 3]]]
    assert choice(range(3)) == ["choice", [[0, 1, 2]]]
    assert choice("relu") == ["choice", [["relu"]]]
    assert randint(10) == ["randint", [10]]
    assert uniform(0.1, 1) == ["uniform", [0.1, 1]]
    assert quniform(0, 10, 2) == ["quniform", [0, 10, 2]]
    assert loguniform(-6, -1) == ["loguniform", [-6, -1]]
    assert qloguniform(0, 5, 1) == ["qloguniform", [0, 5, 1]]
    assert normal(0, 1) == ["normal", [0, 1]]
    assert qnormal(10, 3, 1) == ["qnormal", [10, 3, 1]]
    assert lognormal(0, 1) == ["lognormal", [0, 1]]
    assert qlognormal(1, 1, 2) == ["qlognormal", [1, 1, 2]]


@pytest.mark.parametrize("call, words", [
    (lambda: uniform(5, 1), "min_value must be < max_value"),
    (lambda: uniform(1, 1), "min_value must be < max_value"),
    (lambda: quniform(3, 3, 1), "min_value must be < max_value"),
    (lambda: loguniform(2, 1), "min_value must be <= max_value"),
    (lambda: uniform("a", 1), "finite int or float"),
    (lambda: uniform(0, float("inf")), "finite int or float"),
    (lambda: choice(), "at least one option"),
    (lambda: choice([]), "at least one option"),
    (lambda: choice([1, 2], 3), "only argument"),
    (lambda: randint(0), "int > 0"),
    (lambda: randint(2.5), "int > 0"),
    (lambda: quniform(0, 10, 0.5), "positive integral"),
    (lambda: qloguniform(0, 1, -1), "positive integral"),
    (lambda: normal(0, -1), "sigma must be >= 0"),
    (lambda: qnormal(0, -1, 1), "sigma must be >= 0"),
    (lambda: lognormal(0, -0.1), "sigma must be >= 0"),
    (lambda: qlognormal(0, 1, 0), "positive integral"),
])
def test_bad_arguments_are_config_errors_with_the_function_named(call, words):
    with pytest.raises(ConfigError) as info:
        call()
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("call, usage", [
    (lambda: uniform(1), "uniform(min_value, max_value)"),
    (lambda: uniform(1, 2, 3), "uniform(min_value, max_value)"),
    (lambda: quniform(1, 2), "quniform(min_value, max_value, q)"),
    (lambda: randint(), "randint(upper)"),
    (lambda: normal(mu=0), "normal(mu, sigma)"),
])
def test_wrong_argument_count_is_a_clear_error(call, usage):
    with pytest.raises(ConfigError) as info:
        call()
    assert "wrong arguments" in str(info.value)
    assert usage in info.value.problems[0].hint


def test_uniform_hint_offers_the_swap():
    with pytest.raises(ConfigError) as info:
        uniform(5, 1)
    assert info.value.problems[0].hint == "swap them: uniform(1, 5)"


def test_samples_follow_each_expressions_semantics():
    rng = random.Random(0)
    draws = {name: [sample(expr, rng) for _ in range(400)] for name, expr in {
        "choice": choice("a", "b"), "randint": randint(5), "uniform": uniform(2, 3),
        "quniform": quniform(0, 100, 10), "loguniform": loguniform(-3, 0), "qloguniform": qloguniform(0, 4, 5),
        "normal": normal(10, 2), "qnormal": qnormal(10, 5, 2), "lognormal": lognormal(0, 0.5),
        "qlognormal": qlognormal(2, 0.5, 3), "qfloat": quniform(0, 10, 2.0)}.items()}
    assert set(draws["choice"]) == {"a", "b"}
    assert set(draws["randint"]) == set(range(5))
    assert all(2 <= v <= 3 for v in draws["uniform"])
    assert all(isinstance(v, int) and v % 10 == 0 and 0 <= v <= 100 for v in draws["quniform"])
    assert all(math.exp(-3) <= v <= 1 for v in draws["loguniform"])
    assert all(isinstance(v, int) and v % 5 == 0 for v in draws["qloguniform"])
    assert 9 < sum(draws["normal"]) / 400 < 11
    assert all(v % 2 == 0 for v in draws["qnormal"])
    assert all(v > 0 for v in draws["lognormal"])
    assert all(v % 3 == 0 and v >= 0 for v in draws["qlognormal"])
    assert all(isinstance(v, float) and v % 2 == 0 for v in draws["qfloat"])  # a float q keeps floats


def test_import_scriptrun_and_hyperdrive_do_not_load_optuna():
    code = ("import sys, scriptrun, scriptrun.train.hyperdrive as hd; "
            "hd.RandomParameterSampling({'x': hd.uniform(0, 1)}); "
            "assert 'optuna' not in sys.modules, 'optuna imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
