"""The three v1 samplers: their client classes (checked at construction) and how each
suggests trial ``index``'s hyperparameters.

A suggestion is a pure function of the sampling's JSON, a seed, the trial index and the history
of earlier trials, so a controller rebuilt after a crash suggests the same values again (it
also stores every suggestion it issued, and never asks twice for the same index).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from scriptrun.errors import ConfigError, Problem
from scriptrun.hyperdrive.bayesian import bayesian_point  # imports optuna only when it suggests
from scriptrun.hyperdrive.expressions import NAMES, check_expression, sample

Hyperparameters = dict[str, Any]

RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN = 20
RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN = 20
BAYESIAN_MAX_QUNIFORM_STEPS = 100_000


class HyperParameterSampling:
    """Base of the samplers: a parameter space (name → expression) checked against the
    expressions this sampler supports."""

    SAMPLING_NAME = ""
    SUPPORTED = NAMES

    def __init__(self, parameter_space: Mapping[str, Any], properties: Mapping[str, Any] | None = None):
        problems = self._check(parameter_space, properties)
        if problems:
            raise ConfigError(problems)
        self._parameter_space = {k: [v[0], list(v[1])] for k, v in parameter_space.items()}
        self._properties = dict(properties) if properties else None

    @property
    def parameter_space(self) -> dict[str, Any]:
        return self._parameter_space

    @property
    def properties(self) -> dict[str, Any] | None:
        return self._properties

    def _check(self, space: Any, properties: Any) -> list[Problem]:
        kind = type(self).__name__
        if not isinstance(space, Mapping) or not space:
            return [Problem("parameter_space", f"{kind} needs a non-empty dict of parameter name → expression",
                            hint="e.g. {'--learning_rate': uniform(0.001, 0.1), '--batch_size': choice(16, 32)}")]
        problems: list[Problem] = []
        if properties is not None and not isinstance(properties, Mapping):
            problems.append(Problem("properties", f"expected a dict, got {properties!r}",
                                    hint="e.g. properties={'rng_seed': 7}"))
        for name, expression in space.items():
            path = f"parameter_space.{name}"
            if not isinstance(name, str) or not name.lstrip("-"):
                problems.append(Problem(path, f"parameter names are command-line flags, got {name!r}",
                                        hint="e.g. '--learning_rate' or 'learning_rate'"))
                continue
            found = check_expression(path, expression)
            if found:
                problems += found
            elif expression[0] not in self.SUPPORTED:
                problems.append(Problem(path, f"{kind} does not support {expression[0]}()",
                                        hint="supported here: " + ", ".join(self.SUPPORTED)
                                        + ("; RandomParameterSampling supports all ten" if self.SUPPORTED != NAMES
                                           else "")))
            else:
                problems += self._check_one(path, expression)
        return problems

    def _check_one(self, path: str, expression: list[Any]) -> list[Problem]:
        return []

    def to_json(self) -> dict[str, Any]:
        """v1's ``generator_config``: name, parameter space and (when given) properties."""
        data: dict[str, Any] = {"name": self.SAMPLING_NAME, "parameter_space": self._parameter_space}
        if self._properties is not None:
            data["properties"] = self._properties
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._parameter_space!r})"


class RandomParameterSampling(HyperParameterSampling):
    """Every parameter drawn independently. ``properties={"rng_seed": n}`` makes the draws
    reproducible (without one, the seed is chosen at submission and kept in the sweep's state)."""

    SAMPLING_NAME = "RANDOM"

    def _check(self, space: Any, properties: Any) -> list[Problem]:
        problems = super()._check(space, properties)
        seed = properties.get("rng_seed") if isinstance(properties, Mapping) else None
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            problems.append(Problem("properties.rng_seed", f"rng_seed must be an int, got {seed!r}"))
        return problems


class GridParameterSampling(HyperParameterSampling):
    """The whole Cartesian product of ``choice`` values (capped by ``max_total_runs``)."""

    SAMPLING_NAME = "GRID"
    SUPPORTED = ("choice",)


class BayesianParameterSampling(HyperParameterSampling):
    """Each suggestion from a Tree-structured Parzen Estimator (optuna) over the trials so far.
    No early-termination policy (as v1)."""

    SAMPLING_NAME = "BayesianOptimization"
    SUPPORTED = ("choice", "uniform", "quniform")

    def _check_one(self, path: str, expression: list[Any]) -> list[Problem]:
        name, args = expression
        if name == "choice":
            values = args[0]
            if any(isinstance(v, bool) or not isinstance(v, (int, float, str)) for v in values):
                return [Problem(path, "Bayesian choice() values must be int, float or str",
                                hint="encode other values as strings")]
            strings = sum(isinstance(v, str) for v in values)
            if 0 < strings < len(values):
                return [Problem(path, "Bayesian choice() values must be all strings or no strings",
                                hint="e.g. choice('16', '32') or choice(16, 32)")]
        if name == "quniform":
            if not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
                return [Problem(path, "Bayesian quniform() arguments must all be ints",
                                hint="e.g. quniform(16, 256, 16); use uniform() for floats")]
            if (args[1] - args[0]) / args[2] > BAYESIAN_MAX_QUNIFORM_STEPS:
                return [Problem(path, f"quniform() has more than {BAYESIAN_MAX_QUNIFORM_STEPS} steps",
                                hint="use a larger q or uniform()")]
        return []


SAMPLERS: dict[str, type[HyperParameterSampling]] = {
    cls.SAMPLING_NAME: cls for cls in (RandomParameterSampling, GridParameterSampling, BayesianParameterSampling)
}


def sampling_from_json(data: Mapping[str, Any]) -> HyperParameterSampling:
    return SAMPLERS[data["name"]](data["parameter_space"], data.get("properties"))


# -- suggestions -------------------------------------------------------------------------------


def grid_size(space: Mapping[str, Any]) -> int:
    return math.prod(len(expression[1][0]) for expression in space.values())


def grid_point(space: Mapping[str, Any], index: int) -> Hyperparameters:
    """The ``index``-th point of the grid, the last parameter varying fastest."""
    names = list(space)
    sizes = [len(space[n][1][0]) for n in names]
    point: Hyperparameters = {}
    for name, size in zip(reversed(names), reversed(sizes), strict=True):
        index, pos = divmod(index, size)
        point[name] = space[name][1][0][pos]
    return {n: point[n] for n in names}


def random_point(space: Mapping[str, Any], seed: int, index: int) -> Hyperparameters:
    rng = random.Random(f"{seed}:{index}")
    return {name: sample(expression, rng) for name, expression in space.items()}


def suggest(sampling: Mapping[str, Any], *, seed: int, index: int, goal: str,
            history: Sequence[tuple[Hyperparameters, float | None]] = (),
            pending: Sequence[Hyperparameters] = ()) -> Hyperparameters:
    """Trial ``index``'s hyperparameters. ``history``: ended trials (values, final metric or
    None); ``pending``: trials still running (Bayesian only)."""
    name, space = sampling["name"], sampling["parameter_space"]
    if name == GridParameterSampling.SAMPLING_NAME:
        return grid_point(space, index)
    if name == BayesianParameterSampling.SAMPLING_NAME:
        return bayesian_point(space, seed=seed + index, goal=goal, history=history, pending=pending)
    return random_point(space, seed, index)
