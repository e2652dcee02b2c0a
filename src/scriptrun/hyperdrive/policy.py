"""v1's early-termination policies, as pure functions of the trials' primary-metric series.

An *interval* is one logging of the primary metric by a trial. A running trial that has logged
``k`` values, ``k`` a multiple of ``evaluation_interval`` and ``k >= delay_evaluation``, is
judged against every trial that has reached interval ``k`` (finished trials included, as v1;
younger trials are not compared). The controller judges it each time any trial logs, so a
trial that reached ``k`` first is judged again as the others catch up.
:meth:`EarlyTerminationPolicy.stop_reason` says why the trial should stop, or None.

* Bandit: stop when the trial's best so far is worse than the best of all trials at ``k``
  by more than the slack (maximize: ``< best / (1 + slack_factor)`` or ``< best - slack_amount``;
  minimize: ``> best * (1 + slack_factor)`` or ``> best + slack_amount``).
* Median stopping: stop when the trial's best so far is worse than the median of the trials'
  running averages over intervals 1..k (needs at least two trials at ``k``).
* Truncation selection: stop when the trial's value at ``k`` is among the worst
  ``truncation_percentage`` % of the trials' values at ``k`` (ties are resolved in its favour).
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from scriptrun.errors import ConfigError, Problem

Series = Mapping[str, Sequence[float]]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _better(goal: str, a: float, b: float) -> bool:
    return a > b if goal == "maximize" else a < b


def _best(goal: str, values: Sequence[float]) -> float:
    return max(values) if goal == "maximize" else min(values)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class EarlyTerminationPolicy:
    """Base of the policies: ``evaluation_interval`` and ``delay_evaluation`` checked as ints."""

    POLICY_NAME = ""

    def __init__(self, *, evaluation_interval: int = 1, delay_evaluation: int = 0, problems: list[Problem] | None = None):
        problems = list(problems or [])
        if not _is_int(evaluation_interval) or evaluation_interval < 1:
            problems.append(Problem("policy.evaluation_interval", f"must be an int >= 1, got {evaluation_interval!r}",
                                    hint="1 evaluates the policy every time the primary metric is logged"))
        if not _is_int(delay_evaluation) or delay_evaluation < 0:
            problems.append(Problem("policy.delay_evaluation", f"must be an int >= 0, got {delay_evaluation!r}",
                                    hint="the number of intervals to wait before the first evaluation"))
        if problems:
            raise ConfigError(problems)
        self._evaluation_interval = evaluation_interval
        self._delay_evaluation = delay_evaluation

    @property
    def evaluation_interval(self) -> int:
        return self._evaluation_interval

    @property
    def delay_evaluation(self) -> int:
        return self._delay_evaluation

    def _properties(self) -> dict[str, Any]:
        return {"evaluation_interval": self._evaluation_interval, "delay_evaluation": self._delay_evaluation}

    def to_json(self) -> dict[str, Any]:
        """v1's ``policy_config``: ``{"name", "properties"}``."""
        return {"name": self.POLICY_NAME, "properties": self._properties()}

    def evaluates_at(self, k: int) -> bool:
        return k >= max(1, self._delay_evaluation) and k % self._evaluation_interval == 0

    def stop_reason(self, trial: str, series: Series, goal: str, finished: Collection[str] = ()) -> str | None:
        """Why ``trial`` should stop at its latest interval ``len(series[trial])``, or None."""
        k = len(series.get(trial, ()))
        if not k or not self.evaluates_at(k):
            return None
        peers = {t: list(v[:k]) for t, v in series.items() if len(v) >= k and self._compares(t, trial, finished)}
        return self._decide(trial, k, peers, goal)

    def _compares(self, other: str, trial: str, finished: Collection[str]) -> bool:
        return True

    def _decide(self, trial: str, k: int, peers: dict[str, list[float]], goal: str) -> str | None:
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._properties().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EarlyTerminationPolicy) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self))


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Never stops a trial (v1's default)."""

    POLICY_NAME = "Default"

    def __init__(self) -> None:
        super().__init__()

    def _properties(self) -> dict[str, Any]:
        return {}


class BanditPolicy(EarlyTerminationPolicy):
    """Stop trials whose best so far falls outside the slack of the best trial."""

    POLICY_NAME = "Bandit"

    def __init__(self, evaluation_interval: int = 1, slack_factor: float | None = None,
                 slack_amount: float | None = None, delay_evaluation: int = 0):
        problems = []
        if (slack_factor is None) == (slack_amount is None):
            problems.append(Problem("policy.slack_factor", "BanditPolicy needs exactly one of slack_factor and "
                                    "slack_amount" + (", not both" if slack_factor is not None else ""),
                                    hint="e.g. BanditPolicy(slack_factor=0.1): stop trials more than 10% worse "
                                         "than the best"))
        for name, value in (("slack_factor", slack_factor), ("slack_amount", slack_amount)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                problems.append(Problem(f"policy.{name}", f"must be a number >= 0, got {value!r}"))
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation,
                         problems=problems)
        self._slack_factor = slack_factor
        self._slack_amount = slack_amount

    @property
    def slack_factor(self) -> float | None:
        return self._slack_factor

    @property
    def slack_amount(self) -> float | None:
        return self._slack_amount

    def _properties(self) -> dict[str, Any]:
        slack = ({"slack_factor": self._slack_factor} if self._slack_factor is not None
                 else {"slack_amount": self._slack_amount})
        return {"evaluation_interval": self._evaluation_interval, "delay_evaluation": self._delay_evaluation, **slack}

    def _decide(self, trial: str, k: int, peers: dict[str, list[float]], goal: str) -> str | None:
        best = _best(goal, [_best(goal, v) for v in peers.values()])
        mine = _best(goal, peers[trial])
        maximize = goal == "maximize"
        if self._slack_factor is not None:
            threshold = best / (1 + self._slack_factor) if maximize else best * (1 + self._slack_factor)
            slack = f"slack_factor={self._slack_factor}"
        else:
            assert self._slack_amount is not None
            threshold = best - self._slack_amount if maximize else best + self._slack_amount
            slack = f"slack_amount={self._slack_amount}"
        if _better(goal, threshold, mine):
            return (f"BanditPolicy({slack}) at interval {k}: best so far {_fmt(mine)} is "
                    f"{'below' if maximize else 'above'} {_fmt(threshold)} (best trial {_fmt(best)})")
        return None


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Stop trials whose best so far is worse than the median of the running averages."""

    POLICY_NAME = "MedianStopping"

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 5):
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation)

    def _decide(self, trial: str, k: int, peers: dict[str, list[float]], goal: str) -> str | None:
        if len(peers) < 2:
            return None
        median = statistics.median(statistics.fmean(v) for v in peers.values())
        mine = _best(goal, peers[trial])
        if _better(goal, median, mine):
            return (f"MedianStoppingPolicy at interval {k}: best so far {_fmt(mine)} is "
                    f"{'below' if goal == 'maximize' else 'above'} the median of running averages "
                    f"{_fmt(median)} ({len(peers)} trials)")
        return None


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """At each evaluation, stop the worst ``truncation_percentage`` % of trials at that interval."""

    POLICY_NAME = "TruncationSelection"

    def __init__(self, truncation_percentage: int, evaluation_interval: int = 1, delay_evaluation: int = 0,
                 exclude_finished_jobs: bool = False):
        problems = []
        if not _is_int(truncation_percentage) or not 1 <= truncation_percentage <= 99:
            problems.append(Problem("policy.truncation_percentage",
                                    f"must be an int from 1 to 99, got {truncation_percentage!r}",
                                    hint="e.g. 20 stops the worst fifth of the trials at each evaluation"))
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation,
                         problems=problems)
        self._truncation_percentage = truncation_percentage
        self._exclude_finished_jobs = bool(exclude_finished_jobs)

    @property
    def truncation_percentage(self) -> int:
        return self._truncation_percentage

    def _properties(self) -> dict[str, Any]:
        return {"evaluation_interval": self._evaluation_interval, "delay_evaluation": self._delay_evaluation,
                "truncation_percentage": self._truncation_percentage,
                "exclude_finished_jobs": self._exclude_finished_jobs}

    def _compares(self, other: str, trial: str, finished: Collection[str]) -> bool:
        return other == trial or not (self._exclude_finished_jobs and other in finished)

    def _decide(self, trial: str, k: int, peers: dict[str, list[float]], goal: str) -> str | None:
        cut = len(peers) * self._truncation_percentage // 100
        mine = peers[trial][k - 1]
        better = sum(_better(goal, v[k - 1], mine) for t, v in peers.items() if t != trial)
        if cut and better >= len(peers) - cut:
            return (f"TruncationSelectionPolicy(truncation_percentage={self._truncation_percentage}) at interval "
                    f"{k}: value {_fmt(mine)} is among the worst {cut} of {len(peers)} trials")
        return None


POLICIES: dict[str, type[EarlyTerminationPolicy]] = {
    cls.POLICY_NAME: cls for cls in (NoTerminationPolicy, BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy)
}


def policy_from_json(data: Mapping[str, Any] | None) -> EarlyTerminationPolicy:
    if not data:
        return NoTerminationPolicy()
    return POLICIES[data["name"]](**data.get("properties", {}))
