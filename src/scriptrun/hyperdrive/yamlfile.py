"""v1's CLI HyperDrive YAML (``az ml run submit-hyperdrive --hyperdrive-configuration-name``)::

    sampling:
      type: random                 # random | grid | bayesian (any case)
      parameter_space:
      - name: --penalty            # the parameter-space key, verbatim
        expression: choice         # one of the ten expressions
        values: [0.5, 1, 1.5]      # its positional arguments (choice: the options)
    policy:
      type: BanditPolicy           # BanditPolicy | MedianStoppingPolicy | TruncationSelectionPolicy
      evaluation_interval: 1       # | NoTerminationPolicy (default); then the policy's keywords
      slack_factor: 0.2
    primary_metric_name: Accuracy
    primary_metric_goal: Maximize
    max_total_runs: 8
    max_concurrent_runs: 2
    max_duration_minutes: 100

Every problem is reported at once with the file, line and a did-you-mean hint. Beyond v1:
``sampling.properties`` (e.g. ``rng_seed``) is accepted, and an omitted
``max_duration_minutes`` is the default instead of a ``TypeError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from scriptrun.errors import ConfigError, Problem
from scriptrun.hyperdrive.config import MAX_DURATION_MINUTES, HyperDriveConfig, PrimaryMetricGoal
from scriptrun.hyperdrive.expressions import FUNCTIONS
from scriptrun.hyperdrive.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
)
from scriptrun.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperParameterSampling,
    RandomParameterSampling,
)
from scriptrun.spec.checks import raise_problems
from scriptrun.spec.problems import did_you_mean, format_path
from scriptrun.spec.yamlio import load_yaml_with_lines

SAMPLING_TYPES: dict[str, type[HyperParameterSampling]] = {
    "random": RandomParameterSampling, "grid": GridParameterSampling, "bayesian": BayesianParameterSampling}
POLICY_TYPES: dict[str, type[EarlyTerminationPolicy]] = {
    cls.__name__: cls for cls in (BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy, NoTerminationPolicy)}
POLICY_KEYS: dict[str, tuple[str, ...]] = {
    "BanditPolicy": ("evaluation_interval", "slack_factor", "slack_amount", "delay_evaluation"),
    "MedianStoppingPolicy": ("evaluation_interval", "delay_evaluation"),
    "TruncationSelectionPolicy": ("truncation_percentage", "evaluation_interval", "delay_evaluation",
                                  "exclude_finished_jobs"),
    "NoTerminationPolicy": (),
}
TOP_KEYS = ("sampling", "policy", "primary_metric_name", "primary_metric_goal", "max_total_runs",
            "max_concurrent_runs", "max_duration_minutes")
REQUIRED = ("sampling", "primary_metric_name", "primary_metric_goal", "max_total_runs")


@dataclass(frozen=True)
class HyperDriveYaml:
    """What a HyperDrive YAML file says; :meth:`to_config` adds the job to sweep."""

    sampling: HyperParameterSampling
    policy: EarlyTerminationPolicy
    primary_metric_name: str
    primary_metric_goal: PrimaryMetricGoal
    max_total_runs: int
    max_concurrent_runs: int | None
    max_duration_minutes: float
    file: str

    def to_config(self, run_config: Any = None, **kwargs: Any) -> HyperDriveConfig:
        return HyperDriveConfig(self.sampling, self.primary_metric_name, self.primary_metric_goal,
                                self.max_total_runs, max_concurrent_runs=self.max_concurrent_runs,
                                max_duration_minutes=self.max_duration_minutes, policy=self.policy,
                                run_config=run_config, **kwargs)


def _unknown(path: str, keys: Any, allowed: tuple[str, ...]) -> list[Problem]:
    prefix = f"{path}." if path else ""
    return [Problem(f"{prefix}{k}", "unknown key", hint=did_you_mean(str(k), list(allowed))
                    or "allowed here: " + ", ".join(allowed)) for k in keys if k not in allowed]


def _sampling(data: Any, problems: list[Problem]) -> HyperParameterSampling | None:
    if not isinstance(data, dict):
        problems.append(Problem("sampling", "expected a mapping with `type` and `parameter_space`"))
        return None
    problems += _unknown("sampling", data, ("type", "parameter_space", "properties"))
    kind = str(data.get("type", "")).lower()
    cls = SAMPLING_TYPES.get(kind)
    if cls is None:
        problems.append(Problem("sampling.type", f"unknown sampling type {data.get('type')!r}",
                                hint=did_you_mean(kind, list(SAMPLING_TYPES)) or "random, grid or bayesian"))
    items = data.get("parameter_space")
    if not isinstance(items, list) or not items:
        problems.append(Problem("sampling.parameter_space", "required: a list of {name, expression, values}",
                                hint="- name: --learning_rate\n      expression: uniform\n      values: [0.001, 0.1]"))
        return None
    space: dict[str, Any] = {}
    index_of: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"sampling.parameter_space[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(path, "expected a mapping with name, expression and values"))
            continue
        problems += _unknown(path, item, ("name", "expression", "values"))
        name, expression, values = item.get("name"), item.get("expression"), item.get("values")
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"{path}.name", "required: the parameter's name (its command-line flag)"))
            continue
        if name in index_of:
            problems.append(Problem(f"{path}.name", f"parameter {name!r} is already defined at "
                                    f"sampling.parameter_space[{index_of[name]}]",
                                    hint="give each parameter one entry"))
            continue
        function = FUNCTIONS.get(str(expression))
        if function is None:
            problems.append(Problem(f"{path}.expression", f"unknown expression {expression!r}",
                                    hint=did_you_mean(str(expression), list(FUNCTIONS))
                                    or "one of " + ", ".join(FUNCTIONS)))
            continue
        args = values if isinstance(values, list) else [values] if values is not None else []
        try:
            space[name] = function(*args)
        except ConfigError as exc:
            problems += [Problem(f"{path}.values", p.message, p.hint) for p in exc.problems]
            continue
        index_of[name] = i
    if cls is None or not space or len(space) < len(items):
        return None
    try:
        return cls(space, data.get("properties"))
    except ConfigError as exc:
        for p in exc.problems:
            head, _, rest = p.path.partition(".")
            name = rest if head == "parameter_space" else None
            where = (f"sampling.parameter_space[{index_of[name]}].expression" if name in index_of
                     else f"sampling.{p.path}")
            problems.append(Problem(where, p.message, p.hint))
        return None


def _policy(data: Any, problems: list[Problem]) -> EarlyTerminationPolicy | None:
    if data is None:
        return NoTerminationPolicy()
    if not isinstance(data, dict):
        problems.append(Problem("policy", "expected a mapping with `type` and the policy's settings"))
        return None
    kind = str(data.get("type", "NoTerminationPolicy"))
    cls = POLICY_TYPES.get(kind)
    if cls is None:
        problems.append(Problem("policy.type", f"unknown policy type {kind!r}",
                                hint=did_you_mean(kind, list(POLICY_TYPES)) or "one of " + ", ".join(POLICY_TYPES)))
        return None
    allowed = POLICY_KEYS[kind]
    settings = {k: v for k, v in data.items() if k != "type"}
    unknown = _unknown("policy", settings, allowed)
    if unknown:
        problems += unknown
        return None
    if kind == "TruncationSelectionPolicy" and "truncation_percentage" not in settings:
        problems.append(Problem("policy.truncation_percentage", "required by TruncationSelectionPolicy",
                                hint="e.g. truncation_percentage: 20"))
        return None
    try:
        return cls(**settings)
    except ConfigError as exc:
        problems += exc.problems
        return None


def load_hyperdrive_yaml(path: str | os.PathLike[str]) -> HyperDriveYaml:
    """Read a v1 HyperDrive YAML file; raise one ConfigError (file, line, hint) listing every problem."""
    file = str(path)
    data, raw_lines = load_yaml_with_lines(file)
    lines = {format_path(loc): line for loc, line in raw_lines.items()}
    if not isinstance(data, dict):
        raise_problems([Problem("", "expected a mapping of HyperDrive settings", hint="it starts with `sampling:`")],
                       file=file, lines=lines)
    problems: list[Problem] = _unknown("", data, TOP_KEYS)
    problems += [Problem(k, "required key is missing") for k in REQUIRED if k not in data]
    sampling = _sampling(data["sampling"], problems) if "sampling" in data else None
    policy = _policy(data.get("policy"), problems)
    goal = None
    if "primary_metric_goal" in data:
        try:
            goal = PrimaryMetricGoal.from_str(data["primary_metric_goal"])
        except ConfigError as exc:
            problems += exc.problems
    name = data.get("primary_metric_name")
    if "primary_metric_name" in data and (not isinstance(name, str) or not name):
        problems.append(Problem("primary_metric_name", "expected the name of a metric the script logs"))
    for key in ("max_total_runs", "max_concurrent_runs"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append(Problem(key, f"must be an int >= 1, got {value!r}"))
    duration = data.get("max_duration_minutes")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                 or duration <= 0):
        problems.append(Problem("max_duration_minutes", f"must be a number > 0, got {duration!r}"))
    raise_problems(problems, file=file, lines=lines)
    assert sampling is not None and policy is not None and goal is not None
    return HyperDriveYaml(sampling, policy, name, goal, data["max_total_runs"], data.get("max_concurrent_runs"),
                          duration if duration is not None else MAX_DURATION_MINUTES, file)
