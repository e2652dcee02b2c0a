"""``HyperDriveConfig`` and ``PrimaryMetricGoal``: a sweep of one ``ScriptRunConfig``.

Checked at construction with v1's rules (§8.1), every problem reported at once as one
:class:`~scriptrun.errors.ConfigError`; v1's recommendations stay warnings. Submitting it
(``Experiment.submit(hdc)``) is :func:`scriptrun.hyperdrive.submission.submit_sweep`.
"""

from __future__ import annotations

import re
import warnings
from enum import Enum
from typing import Any

from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.hyperdrive.policy import EarlyTerminationPolicy, NoTerminationPolicy
from scriptrun.hyperdrive.run import HyperDriveRun
from scriptrun.hyperdrive.sampling import (
    RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN,
    RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN,
    BayesianParameterSampling,
    HyperParameterSampling,
)
from scriptrun.hyperdrive.submission import submit_sweep
from scriptrun.runs.experiment import register_submit_function
from scriptrun.runs.run import Run

MAX_DURATION_MINUTES = 10080
MAX_TOTAL_RUNS = 1000
MAX_CONCURRENT_RUNS = 100
MAX_PARENT_RUNS = 5
RESUME_FROM_TOTAL_RUNS = 1000
_RUN_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,200}$")


class PrimaryMetricGoal(Enum):
    """Whether the primary metric is to be maximized or minimized."""

    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"

    @classmethod
    def from_str(cls, goal: str) -> PrimaryMetricGoal:
        """``"maximize"``/``"minimize"`` in any case."""
        for member in cls:
            if isinstance(goal, str) and goal.strip().upper() == member.value:
                return member
        raise ConfigError(Problem("primary_metric_goal", f"unknown goal {goal!r}",
                                  hint="use PrimaryMetricGoal.MAXIMIZE or PrimaryMetricGoal.MINIMIZE"))

    @property
    def wire(self) -> str:
        """The form v1 sends (and the sweep state keeps): ``maximize`` / ``minimize``."""
        return self.value.lower()


def _int_in(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class HyperDriveConfig:
    """A hyperparameter sweep: the sampler, the primary metric and its goal, the limits, an
    early-termination policy, and the job to sweep (``run_config=ScriptRunConfig(...)``, or a
    deprecated ``estimator``)."""

    def __init__(self, hyperparameter_sampling: HyperParameterSampling, primary_metric_name: str,
                 primary_metric_goal: PrimaryMetricGoal | str, max_total_runs: int,
                 max_concurrent_runs: int | None = None, max_duration_minutes: float | None = MAX_DURATION_MINUTES,
                 policy: EarlyTerminationPolicy | None = None, estimator: Any = None,
                 run_config: ScriptRunConfig | None = None, resume_from: Any = None, resume_child_runs: Any = None,
                 pipeline: Any = None, debug_flag: Any = None, custom_run_id: str | None = None):
        problems: list[Problem] = []
        problems += self._check_job(estimator, run_config, pipeline)
        if not isinstance(hyperparameter_sampling, HyperParameterSampling):
            problems.append(Problem("hyperparameter_sampling", f"expected a sampler, got {hyperparameter_sampling!r}",
                                    hint="e.g. RandomParameterSampling({'--lr': uniform(0.001, 0.1)})"))
        if not isinstance(primary_metric_name, str) or not primary_metric_name.strip():
            problems.append(Problem("primary_metric_name", f"expected the name of a logged metric, got "
                                    f"{primary_metric_name!r}", hint="the name the script logs with run.log(name, v)"))
        goal: PrimaryMetricGoal | None = None
        if isinstance(primary_metric_goal, PrimaryMetricGoal):
            goal = primary_metric_goal
        else:
            try:
                goal = PrimaryMetricGoal.from_str(primary_metric_goal)
            except ConfigError as exc:
                problems += exc.problems
        if not _int_in(max_total_runs, 1, MAX_TOTAL_RUNS):
            problems.append(Problem("max_total_runs", f"must be an int from 1 to {MAX_TOTAL_RUNS}, got "
                                    f"{max_total_runs!r}", hint="the number of trials to run, e.g. 20"))
        if max_concurrent_runs is None:
            max_concurrent_runs = min(max_total_runs, MAX_CONCURRENT_RUNS) if _int_in(max_total_runs, 1, 10**9) else 1
        elif not _int_in(max_concurrent_runs, 1, MAX_CONCURRENT_RUNS):
            problems.append(Problem("max_concurrent_runs", f"must be an int from 1 to {MAX_CONCURRENT_RUNS}, got "
                                    f"{max_concurrent_runs!r}", hint="how many trials run at the same time"))
        if max_duration_minutes is None:
            max_duration_minutes = MAX_DURATION_MINUTES  # v1's CLI crashed here with a TypeError
        if isinstance(max_duration_minutes, bool) or not isinstance(max_duration_minutes, (int, float)) \
                or max_duration_minutes <= 0:
            problems.append(Problem("max_duration_minutes", f"must be a number > 0, got {max_duration_minutes!r}"))
        elif max_duration_minutes > MAX_DURATION_MINUTES:
            warnings.warn(f"max_duration_minutes={max_duration_minutes} is capped at {MAX_DURATION_MINUTES} "
                          "(7 days)", UserWarning, stacklevel=2)
            max_duration_minutes = MAX_DURATION_MINUTES
        if policy is None:
            policy = NoTerminationPolicy()
        elif not isinstance(policy, EarlyTerminationPolicy):
            problems.append(Problem("policy", f"expected an early-termination policy, got {policy!r}",
                                    hint="BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy or "
                                         "NoTerminationPolicy"))
        bayesian = isinstance(hyperparameter_sampling, BayesianParameterSampling)
        if bayesian and isinstance(policy, EarlyTerminationPolicy) and not isinstance(policy, NoTerminationPolicy):
            problems.append(Problem("policy", "BayesianParameterSampling does not support early termination",
                                    hint="use policy=None (NoTerminationPolicy), or RandomParameterSampling "
                                         "with this policy"))
        resume_from = _as_list(resume_from)
        resume_child_runs = _as_list(resume_child_runs)
        problems += self._check_resume(resume_from, resume_child_runs, hyperparameter_sampling, primary_metric_name,
                                       goal)
        if custom_run_id is not None and (not isinstance(custom_run_id, str) or not _RUN_ID.match(custom_run_id)):
            problems.append(Problem("custom_run_id", f"not a valid run id: {custom_run_id!r}",
                                    hint="letters, digits, '_', '.', '-', starting with a letter or digit"))
        if problems:
            raise ConfigError(problems)
        if bayesian:
            wanted = RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN * len(hyperparameter_sampling.parameter_space)
            if max_total_runs < wanted:
                warnings.warn(f"Bayesian sampling works best with at least {wanted} runs "
                              f"({RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN} per parameter); "
                              f"max_total_runs={max_total_runs}", UserWarning, stacklevel=2)
            if max_concurrent_runs > RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN:
                warnings.warn(f"Bayesian sampling learns little with more than "
                              f"{RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN} concurrent runs", UserWarning, stacklevel=2)
        assert goal is not None
        self.hyperparameter_sampling = hyperparameter_sampling
        self.primary_metric_name = primary_metric_name
        self.primary_metric_goal = goal
        self.max_total_runs = max_total_runs
        self.max_concurrent_runs = max_concurrent_runs
        self.max_duration_minutes = max_duration_minutes
        self.policy = policy
        self.estimator = estimator
        self.run_config = run_config
        self.resume_from = resume_from
        self.resume_child_runs = resume_child_runs
        self.debug_flag = debug_flag
        self.custom_run_id = custom_run_id

    @staticmethod
    def _check_job(estimator: Any, run_config: Any, pipeline: Any) -> list[Problem]:
        given = [n for n, v in (("estimator", estimator), ("run_config", run_config), ("pipeline", pipeline))
                 if v is not None]
        if not given:
            return [Problem("run_config", "no job to sweep: give one of run_config, estimator or pipeline",
                            hint="HyperDriveConfig(run_config=ScriptRunConfig(source_directory='.', "
                                 "script='train.py'), ...)")]
        if len(given) > 1:
            return [Problem(given[1], f"only one of estimator, run_config and pipeline can be given, got "
                            f"{' and '.join(given)}", hint="keep run_config=ScriptRunConfig(...)")]
        if pipeline is not None:
            return [Problem("pipeline", "sweeping a pipeline is not supported by scriptrun",
                            hint="sweep a ScriptRunConfig (run_config=...), or put a HyperDriveStep in the pipeline")]
        if run_config is not None and not isinstance(run_config, ScriptRunConfig):
            return [Problem("run_config", f"expected a ScriptRunConfig, got {type(run_config).__name__}",
                            hint="wrap a RunConfiguration: ScriptRunConfig(source_directory, script, "
                                 "run_config=rc)")]
        if estimator is not None and not callable(getattr(estimator, "to_script_run_config", None)):
            return [Problem("estimator", f"expected an Estimator, got {type(estimator).__name__}",
                            hint="pass the job as run_config=ScriptRunConfig(...)")]
        return []

    @staticmethod
    def _check_resume(resume_from: list[Any], resume_child_runs: list[Any], sampling: Any, metric: Any,
                      goal: PrimaryMetricGoal | None) -> list[Problem]:
        problems: list[Problem] = []
        if len(resume_from) > MAX_PARENT_RUNS:
            problems.append(Problem("resume_from", f"at most {MAX_PARENT_RUNS} earlier sweeps, got {len(resume_from)}"))
        ids = []
        for i, run in enumerate(resume_from):
            if not isinstance(run, HyperDriveRun):
                problems.append(Problem(f"resume_from[{i}]", f"expected a HyperDriveRun, got {type(run).__name__}",
                                        hint="the run that experiment.submit(hyperdrive_config) returned"))
                continue
            if run.id in ids:
                problems.append(Problem(f"resume_from[{i}]", f"{run.id} is listed twice"))
            ids.append(run.id)
            name, earlier_goal = run._primary_metric()
            if name is not None and (name != metric or (goal is not None and earlier_goal != goal.wire)):
                problems.append(Problem(f"resume_from[{i}]", f"{run.id} optimised {name!r} ({earlier_goal}), this "
                                        f"sweep {metric!r} ({goal.wire if goal else goal})",
                                        hint="warm start only from sweeps of the same primary metric and goal"))
            space = run._parameter_space()
            if (isinstance(sampling, BayesianParameterSampling) and space is not None
                    and space != sampling.parameter_space):
                problems.append(Problem(f"resume_from[{i}]", f"{run.id} searched another parameter space",
                                        hint="a Bayesian warm start needs the identical parameter space"))
        parents = set()
        for i, run in enumerate(resume_child_runs):
            if not isinstance(run, Run):
                problems.append(Problem(f"resume_child_runs[{i}]", f"expected a Run, got {type(run).__name__}",
                                        hint="a child run of an earlier sweep, e.g. hd_run.get_best_run_by_"
                                             "primary_metric()"))
                continue
            parents.add(run._details.get("parentRunId"))
        if len(parents) > MAX_PARENT_RUNS:
            problems.append(Problem("resume_child_runs", f"the runs come from {len(parents)} sweeps, at most "
                                    f"{MAX_PARENT_RUNS} are allowed"))
        return problems

    @property
    def source_directory(self) -> str:
        return str(self._script_run_config().source_directory)

    def _script_run_config(self) -> ScriptRunConfig:
        return self.run_config if self.run_config is not None else self.estimator.to_script_run_config()

    def _definition(self) -> dict[str, Any]:
        """v1's wire keys for what the sweep does (kept in the parent's properties)."""
        return {
            "generator_config": self.hyperparameter_sampling.to_json(),
            "policy_config": self.policy.to_json(),
            "primary_metric_config": {"name": self.primary_metric_name, "goal": self.primary_metric_goal.wire},
            "max_total_jobs": self.max_total_runs, "max_concurrent_jobs": self.max_concurrent_runs,
            "max_duration_minutes": self.max_duration_minutes,
        }

    def __repr__(self) -> str:
        return (f"HyperDriveConfig({self.hyperparameter_sampling!r}, primary_metric_name="
                f"{self.primary_metric_name!r}, primary_metric_goal={self.primary_metric_goal}, "
                f"max_total_runs={self.max_total_runs}, policy={self.policy!r})")


class HyperDriveRunConfig(HyperDriveConfig):
    """Deprecated v1 name of :class:`HyperDriveConfig`."""

    def __init__(self, *args: Any, **kwargs: Any):
        warnings.warn("HyperDriveRunConfig is deprecated: use HyperDriveConfig", DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


register_submit_function(HyperDriveConfig, submit_sweep)
