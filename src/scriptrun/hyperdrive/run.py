"""``HyperDriveRun``: the parent run of a sweep, with v1's queries over its trials.

The sweep's definition (sampler, policy, primary metric and goal, limits) is kept in the
parent's properties at submission, so a rehydrated ``HyperDriveRun(experiment, run_id)`` knows
its primary metric without the config object that created it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from scriptrun.runs.run import Run

if TYPE_CHECKING:
    from scriptrun.hyperdrive.config import HyperDriveConfig
    from scriptrun.runs.experiment import Experiment

DEFINITION_PROPERTY = "hyperdrive_definition"
HYPERPARAMETER_TAG_PREFIX = "_aml_system_"


class HyperDriveRun(Run):
    """The parent run of a HyperDrive sweep; its trials are child runs ``<run id>_<index>``."""

    RUN_TYPE = "hyperdrive"

    def __init__(self, experiment: Experiment, run_id: str, hyperdrive_config: HyperDriveConfig | None = None,
                 **kwargs: Any):
        if not isinstance(run_id, str):
            raise TypeError(f"run_id must be a str, got {type(run_id).__name__}")
        super().__init__(experiment, run_id, **kwargs)
        self._hyperdrive_config = hyperdrive_config

    @property
    def hyperdrive_config(self) -> HyperDriveConfig | None:
        """The config this run was submitted with (None for a run rehydrated by id)."""
        return self._hyperdrive_config

    # -- the sweep's definition ------------------------------------------------------------------

    def _definition(self) -> dict[str, Any]:
        if self._hyperdrive_config is not None:
            return self._hyperdrive_config._definition()
        raw = self.properties.get(DEFINITION_PROPERTY)
        if raw is None:
            raw = self.get_properties().get(DEFINITION_PROPERTY)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def _primary_metric(self) -> tuple[str | None, str | None]:
        config = self._definition().get("primary_metric_config") or {}
        return config.get("name"), config.get("goal")

    def _parameter_space(self) -> dict[str, Any] | None:
        return (self._definition().get("generator_config") or {}).get("parameter_space")

    # -- trials -----------------------------------------------------------------------------------

    def get_hyperparameters(self) -> dict[str, str]:
        """Child run id → the JSON string of its hyperparameters (v1's shape)."""
        out: dict[str, str] = {}
        for key, value in self.get_tags().items():
            if key.startswith(HYPERPARAMETER_TAG_PREFIX) and isinstance(value, str):
                out[key[len(HYPERPARAMETER_TAG_PREFIX):]] = value
        if not out:  # tags not recorded: read the children's own
            for child in self.get_children():
                text = child.properties.get("hyperparameters")
                if text:
                    out[child.id] = text
        return out

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
                    populate: bool = False) -> dict[str, dict[str, Any]]:
        """Child run id → that trial's metrics (v1: one batch query for all children)."""
        return {child.id: child.get_metrics(name=name) for child in self.get_children()}

    def get_children_sorted_by_primary_metric(self, top: int = 0, reverse: bool = False,
                                              discard_no_metric: bool = False) -> list[dict[str, Any]]:
        """``[{run_id, hyperparameters (JSON string), best_primary_metric, status}]`` best first;
        runs without the metric last (or dropped with ``discard_no_metric``); ``top=0``: all."""
        if not isinstance(top, int) or isinstance(top, bool) or top < 0:
            raise ValueError(f"top must be an int >= 0, got {top!r}")
        if not isinstance(reverse, bool) or not isinstance(discard_no_metric, bool):
            raise ValueError("reverse and discard_no_metric must be bools")
        name, goal = self._primary_metric()
        hyperparameters = self.get_hyperparameters()
        with_metric, without = [], []
        for child in self.get_children():
            best = _best(child.get_metrics(name=name).get(name) if name else None, goal)
            row = {"run_id": child.id, "hyperparameters": hyperparameters.get(child.id),
                   "best_primary_metric": best, "status": child.get_status()}
            (with_metric if best is not None else without).append(row)
        descending = goal != "minimize"
        with_metric.sort(key=lambda r: r["best_primary_metric"], reverse=descending != reverse)
        rows = with_metric + ([] if discard_no_metric else without)
        return rows[:top] if top else rows

    def get_best_run_by_primary_metric(self, include_failed: bool = True, include_canceled: bool = True,
                                       include_resume_from_runs: bool = True) -> Run | None:
        """The trial with the best value of the primary metric, or None when none logged it."""
        excluded = set()
        if not include_failed:
            excluded.add("Failed")
        if not include_canceled:
            excluded.add("Canceled")
        for row in self.get_children_sorted_by_primary_metric(discard_no_metric=True):
            if row["status"] not in excluded:
                return Run(self.experiment, row["run_id"])
        return None

    def fail(self, error_details: Any = None, error_code: Any = None, _set_status: bool = True) -> None:
        raise NotImplementedError("a HyperDrive run cannot be failed by hand: cancel() it")

    def get_diagnostics(self) -> None:
        raise NotImplementedError("HyperDriveRun.get_diagnostics is not implemented (as v1)")


def _best(value: Any, goal: str | None) -> float | None:
    values = value if isinstance(value, list) else [value]
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        return None
    return min(numbers) if goal == "minimize" else max(numbers)
