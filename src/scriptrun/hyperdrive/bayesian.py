"""Bayesian suggestions through optuna's ask/tell interface (a seeded TPE sampler).

The study is rebuilt from the sweep's history at every suggestion: cheap (tens of
milliseconds at 100 trials) and it keeps the sweep's state plain JSON, with nothing of optuna's
to persist. Running trials are added as RUNNING so TPE's constant liar spreads concurrent
suggestions apart. ``quniform(lo, hi, q)`` is searched as the integer ``k`` of ``k * q``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

N_STARTUP_TRIALS = 5


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is a dependency
        raise ImportError("Bayesian sampling needs optuna: pip install 'optuna>=4'") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, (kind, args) in space.items():
        if kind == "choice":
            out[name] = CategoricalDistribution(list(args[0]))
        elif kind == "uniform":
            out[name] = FloatDistribution(float(args[0]), float(args[1]))
        else:  # quniform over ints (BayesianParameterSampling checks it)
            lo, hi, q = args
            out[name] = IntDistribution(round(lo / q), round(hi / q))
    return out


def _to_internal(space: Mapping[str, Any], point: Mapping[str, Any]) -> dict[str, Any] | None:
    """A point as optuna params, or None when it lies outside the space (an earlier sweep's)."""
    params: dict[str, Any] = {}
    for name, (kind, args) in space.items():
        value = point.get(name)
        if kind == "choice":
            if value not in args[0]:
                return None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        elif kind == "uniform":
            if not args[0] <= value <= args[1]:
                return None
        else:
            value = round(value / args[2])
            if not round(args[0] / args[2]) <= value <= round(args[1] / args[2]):
                return None
        params[name] = value
    return params


def bayesian_point(space: Mapping[str, Any], *, seed: int, goal: str,
                   history: Sequence[tuple[Mapping[str, Any], float | None]],
                   pending: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    optuna = _optuna()
    from optuna.trial import TrialState, create_trial

    dists = _distributions(space)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant_liar is flagged experimental
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=N_STARTUP_TRIALS, constant_liar=True)
        study = optuna.create_study(direction="maximize" if goal == "maximize" else "minimize", sampler=sampler)
        for point, value in history:
            params = _to_internal(space, point)
            if params is None:
                continue
            if value is None:
                study.add_trial(create_trial(params=params, distributions=dists, state=TrialState.FAIL))
            else:
                study.add_trial(create_trial(params=params, distributions=dists, value=float(value)))
        for point in pending:
            params = _to_internal(space, point)
            if params is not None:
                study.add_trial(create_trial(params=params, distributions=dists, state=TrialState.RUNNING))
        trial = study.ask(dists)
    out: dict[str, Any] = {}
    for name, (kind, args) in space.items():
        value = trial.params[name]
        out[name] = int(value * args[2]) if kind == "quniform" else value
    return out
