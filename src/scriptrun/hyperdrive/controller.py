"""``SweepController``: the decision logic of one HyperDrive sweep, hosted by the agent.

It asks the sampler for trial ``i``'s hyperparameters, submits trial ``i`` as child run
``<parent run id>_<i>`` (the base job with the values appended), keeps ``max_concurrent_runs``
trials in flight, applies the early-termination policy each time a trial logs the primary metric,
stops at ``max_total_runs`` or ``max_duration_minutes``, records the best trial on the parent
as it changes, and finishes the parent with a summary and a plot of the primary metric (and, as
a ``HyperDriveStep``, its ``metrics_output`` and the best trial's outputs for the next steps).

Crash safety: the hyperparameters of every trial are in the state before its ``SubmitChild``
leaves (the host persists both first), indices only grow, and a rebuilt controller never asks
the sampler again for an index it issued — so no trial is lost, repeated or changed. Repeated
events are ignored: a terminal status is taken once, and metric records already seen (same
time, value and step) are skipped.

Beyond v1: if the first trial to complete never logged the primary metric (and no trial has),
the sweep fails at once, naming the metrics that were logged ("did you mean `accuracy`?").
"""

from __future__ import annotations

import base64
import difflib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from scriptrun.agent.controllers import (
    Action,
    CancelChild,
    ChildInfo,
    ChildRequest,
    FinishParent,
    SubmitChild,
    UpdateParent,
)
from scriptrun.errors import with_see_also
from scriptrun.hyperdrive.plot import PLOT_FILE, render_sweep_plot
from scriptrun.hyperdrive.policy import policy_from_json
from scriptrun.hyperdrive.sampling import GridParameterSampling, grid_size, suggest
from scriptrun.hyperdrive.trial import hyperparameters_json, trial_spec
from scriptrun.rundir import METRIC, METRIC_KINDS, RunStatus, is_terminal

STATE_VERSION = 1
SUMMARY_FILE = "sweep_summary.json"
BEST_METRIC = "best_child_by_primary_metric"
METRICS_OUTPUT_FILE = "metrics.json"  # in the metrics_output folder of a HyperDriveStep


@dataclass
class Trial:
    """One issued trial: its values, what the controller knows of its run, its metric series."""

    index: int
    run_id: str
    hyperparameters: dict[str, Any]
    status: str = RunStatus.NOT_STARTED.value
    values: list[float] = field(default_factory=list)
    seen: list[list[Any]] = field(default_factory=list)  # (time, value, step) of each value, for repeats
    metric_names: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    cancel_sent: bool = False
    error: dict[str, Any] | None = None
    resumed_from: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)  # its outputs' lineage, once ended
    metrics: dict[str, list[Any]] = field(default_factory=dict)  # every scalar metric (metrics_output only)

    @property
    def ended(self) -> bool:
        return is_terminal(self.status)

    def best(self, goal: str) -> float | None:
        if not self.values:
            return None
        return max(self.values) if goal == "maximize" else min(self.values)


def _later(t: Any, last: Any) -> bool:
    """A record written after the last one seen (the metrics file is appended in time order)."""
    return isinstance(t, (int, float)) and isinstance(last, (int, float)) and t > last


class SweepController:
    """The Controller of a sweep parent run (see :mod:`scriptrun.agent.controllers`)."""

    def __init__(self, *, parent_run_id: str, base_spec: dict[str, Any], snapshot_id: str | None,
                 sampling: dict[str, Any], primary_metric_name: str, primary_metric_goal: str,
                 policy: dict[str, Any] | None, max_total_runs: int, max_concurrent_runs: int,
                 max_duration_minutes: float, seed: int, history: list[dict[str, Any]] | None = None,
                 resume_trials: list[dict[str, Any]] | None = None, started_at: float | None = None,
                 trials: list[Trial] | None = None, best: dict[str, Any] | None = None,
                 ending: dict[str, Any] | None = None, finished: bool = False,
                 step_outputs: dict[str, Any] | None = None):
        self.parent_run_id = parent_run_id
        self.base_spec = base_spec
        self.snapshot_id = snapshot_id
        self.sampling = sampling
        self.primary_metric_name = primary_metric_name
        self.goal = primary_metric_goal
        self.policy_json = policy or {"name": "Default", "properties": {}}
        self.policy = policy_from_json(self.policy_json)
        self.max_total_runs = max_total_runs
        self.max_concurrent_runs = max_concurrent_runs
        self.max_concurrent_children: int | None = max_concurrent_runs
        self.max_duration_minutes = max_duration_minutes
        self.seed = seed
        self.history = list(history or [])  # warm start: [{"hyperparameters", "value", "run_id"}]
        self.resume_trials = list(resume_trials or [])  # [{"hyperparameters", "resume_from", "run_id"}]
        self.started_at = started_at
        self.trials: list[Trial] = list(trials or [])
        self.best = best  # {"run_id", "value"}
        self.ending = ending  # {"status": str | None, "error": dict | None, "reason": str}
        self.finished = finished
        # in a pipeline (HyperDriveStep): {"metrics_output": {"name", "datastore", "path"} | None,
        # "outputs": [names the best trial's outputs are passed on as]}
        self.step_outputs = step_outputs

    # -- the events ---------------------------------------------------------------------------

    def start(self) -> list[Action]:
        return self._issue() + self._maybe_finish()

    def on_child_status(self, child: ChildInfo) -> list[Action]:
        trial = self._trial(child.run_id)
        if trial is None or trial.ended:
            return []
        trial.status = child.status
        if not child.is_terminal:
            return []
        trial.error = child.error
        trial.outputs = list(child.output_datasets)
        actions = self._update_best()
        if child.status == RunStatus.COMPLETED.value:
            actions += self._check_metric_logged(trial)
        return actions + self._issue() + self._maybe_finish()

    def on_metrics(self, run_id: str, records: list[dict[str, Any]]) -> list[Action]:
        trial = self._trial(run_id)
        if trial is None:
            return []
        new = 0
        for record in records:
            name = record.get("n")
            if record.get("k") in METRIC_KINDS and isinstance(name, str) and name not in trial.metric_names:
                trial.metric_names.append(name)
            if record.get("k") == METRIC and isinstance(name, str) and self._metrics_output():
                trial.metrics.setdefault(name, []).append(record.get("v"))
            if record.get("k") != METRIC or name != self.primary_metric_name:
                continue
            value = record.get("v")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            key = [record.get("t"), value, record.get("s")]
            if trial.seen and not _later(key[0], trial.seen[-1][0]) and key in trial.seen:
                continue  # re-delivered after a recovery
            trial.seen.append(key)
            trial.values.append(float(value))
            new += 1
        actions = self._apply_policy(trial, new) if new else []
        return actions + (self._update_best() if new else [])

    def on_tick(self, now: float) -> list[Action]:
        if self.started_at is None:
            self.started_at = now
        if (not self.finished and self.ending is None
                and now - self.started_at >= self.max_duration_minutes * 60):
            return self._end(None, None, f"max_duration_minutes={self.max_duration_minutes} reached")
        return []

    def cancel(self) -> list[Action]:
        if self.finished:
            return []
        if self.ending is None or self.ending.get("status") != RunStatus.CANCELED.value:
            self.ending = {"status": RunStatus.CANCELED.value, "error": None, "reason": "the sweep was canceled"}
        return self._maybe_finish()  # the host cancels the running trials itself

    # -- state -----------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION, "parent_run_id": self.parent_run_id, "base_spec": self.base_spec,
            "snapshot_id": self.snapshot_id, "sampling": self.sampling,
            "primary_metric_name": self.primary_metric_name, "primary_metric_goal": self.goal,
            "policy": self.policy_json, "max_total_runs": self.max_total_runs,
            "max_concurrent_runs": self.max_concurrent_runs, "max_duration_minutes": self.max_duration_minutes,
            "seed": self.seed, "history": self.history, "resume_trials": self.resume_trials,
            "started_at": self.started_at, "trials": [asdict(t) for t in self.trials], "best": self.best,
            "ending": self.ending, "finished": self.finished, "step_outputs": self.step_outputs,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SweepController:
        state = dict(state)
        if state.pop("version", STATE_VERSION) != STATE_VERSION:
            raise ValueError(f"unsupported sweep state version (this scriptrun reads {STATE_VERSION})")
        trials = [Trial(**t) for t in state.pop("trials", [])]
        return cls(**state, trials=trials)

    # -- decisions ------------------------------------------------------------------------------

    @property
    def total_trials(self) -> int:
        if self.sampling["name"] == GridParameterSampling.SAMPLING_NAME:
            return min(self.max_total_runs, grid_size(self.sampling["parameter_space"]))
        return self.max_total_runs

    def _trial(self, run_id: str) -> Trial | None:
        prefix = f"{self.parent_run_id}_"
        if not run_id.startswith(prefix) or not run_id[len(prefix):].isdigit():
            return None
        index = int(run_id[len(prefix):])
        return self.trials[index] if index < len(self.trials) else None

    def _in_flight(self) -> list[Trial]:
        return [t for t in self.trials if not t.ended]

    def _issue(self) -> list[Action]:
        """Submit new trials up to the concurrency limit (none once the sweep is ending)."""
        actions: list[Action] = []
        parent_tags: dict[str, str] = {}
        while (not self.finished and self.ending is None and len(self.trials) < self.total_trials
               and len(self._in_flight()) < self.max_concurrent_runs):
            trial, request = self._new_trial(len(self.trials))
            self.trials.append(trial)
            parent_tags[f"_aml_system_{trial.run_id}"] = hyperparameters_json(trial.hyperparameters)
            actions.append(SubmitChild(request))
        if parent_tags:
            actions.insert(0, UpdateParent(tags=parent_tags))
        return actions

    def _new_trial(self, index: int) -> tuple[Trial, ChildRequest]:
        run_id = f"{self.parent_run_id}_{index}"
        resume = self.resume_trials[index] if index < len(self.resume_trials) else None
        if resume is not None:
            values = dict(resume["hyperparameters"])
        else:
            values = suggest(self.sampling, seed=self.seed, index=index, goal=self.goal,
                             history=self._sampler_history(),
                             pending=[t.hyperparameters for t in self._in_flight()])
        text = hyperparameters_json(values)
        spec = trial_spec(self.base_spec, values, resume_from=resume["resume_from"] if resume else None)
        properties = {"hyperparameters": text, "hyperdrive_trial_index": str(index)}
        if resume is not None:
            properties["resumed_from_run_id"] = str(resume.get("run_id", ""))
        request = ChildRequest(run_id=run_id, spec=spec, snapshot_id=self.snapshot_id,
                               tags={"hyperparameters": text}, properties=properties)
        return Trial(index, run_id, values, resumed_from=resume.get("run_id") if resume else None), request

    def _sampler_history(self) -> list[tuple[dict[str, Any], float | None]]:
        earlier = [(h["hyperparameters"], h.get("value")) for h in self.history]
        return earlier + [(t.hyperparameters, t.best(self.goal)) for t in self.trials if t.ended]

    def _apply_policy(self, trial: Trial, new: int) -> list[Action]:
        """Evaluate the policy for every running trial at its latest interval (so a trial that
        got to interval k first is judged again as the others reach k), and for ``trial`` at
        each of the ``new`` intervals it just logged."""
        if self.ending is not None:
            return []
        finished = {t.run_id for t in self.trials if t.ended}
        series = {t.run_id: t.values for t in self.trials if t.values}
        actions: list[Action] = []
        for t in self.trials:
            if t.ended or t.stop_reason or not t.values:
                continue
            n = len(t.values)
            for k in (range(n - new + 1, n + 1) if t is trial else (n,)):
                reason = self.policy.stop_reason(t.run_id, {**series, t.run_id: t.values[:k]}, self.goal, finished)
                if reason:
                    t.stop_reason = reason
                    t.cancel_sent = True
                    actions.append(CancelChild(t.run_id, reason=f"stopped early by the sweep's policy: {reason}"))
                    break
        return actions

    def _update_best(self) -> list[Action]:
        best: tuple[str, float] | None = None
        for t in self.trials:
            value = t.best(self.goal)
            if value is not None and (best is None or (value > best[1] if self.goal == "maximize"
                                                       else value < best[1])):
                best = (t.run_id, value)
        if best is None or (self.best and self.best["run_id"] == best[0] and self.best["value"] == best[1]):
            return []
        self.best = {"run_id": best[0], "value": best[1]}
        return [UpdateParent(tags={"best_child_run_id": best[0]}, metrics={BEST_METRIC: best[1]})]

    def _check_metric_logged(self, trial: Trial) -> list[Action]:
        if trial.values or any(t.values for t in self.trials) or self.ending is not None:
            return []
        logged = sorted({n for t in self.trials for n in t.metric_names})
        close = difflib.get_close_matches(self.primary_metric_name, logged, n=1, cutoff=0.5)
        message = (f"trial {trial.run_id} completed without logging the primary metric "
                   f"{self.primary_metric_name!r}; the trials logged "
                   + (", ".join(repr(n) for n in logged) if logged else "no metrics at all"))
        hint = (f"did you mean `{close[0]}`? Set primary_metric_name={close[0]!r}" if close else
                f"log it in the script: Run.get_context().log({self.primary_metric_name!r}, value)")
        error = {"code": "PrimaryMetricNotLogged", "message": with_see_also(f"{message}. {hint}", "SR-SWEEP-METRIC"),
                 "primary_metric_name": self.primary_metric_name, "logged_metrics": logged}
        return self._end(RunStatus.FAILED.value, error, "the primary metric was never logged")

    def _end(self, status: str | None, error: dict[str, Any] | None, reason: str) -> list[Action]:
        """Stop issuing trials, cancel the running ones, finish once they have ended."""
        self.ending = {"status": status, "error": error, "reason": reason}
        actions: list[Action] = []
        for t in self._in_flight():
            if not t.cancel_sent:
                t.cancel_sent = True
                actions.append(CancelChild(t.run_id, reason=f"the sweep is ending: {reason}"))
        return actions + self._maybe_finish()

    def _maybe_finish(self) -> list[Action]:
        if self.finished or self._in_flight():
            return []
        if self.ending is None and len(self.trials) < self.total_trials:
            return []
        self.finished = True
        status, error = self._final_status()
        reason = (self.ending or {}).get("reason") or f"{len(self.trials)} trials ran"
        properties = {"end_reason": reason}
        if self.best:
            properties["best_child_run_id"] = self.best["run_id"]
        summary = json.dumps(self.summary(status, reason), indent=2)
        return [UpdateParent(properties=properties, files={SUMMARY_FILE: summary}, images=self._plot(),
                             outputs=self._outputs()), FinishParent(status, error)]

    def _metrics_output(self) -> dict[str, Any] | None:
        return (self.step_outputs or {}).get("metrics_output")

    def _outputs(self) -> dict[str, dict[str, Any]]:
        """In a pipeline: ``metrics_output`` (every trial's metrics as JSON, v1's shape) and the
        step's outputs, passed on from the best trial."""
        out: dict[str, dict[str, Any]] = {}
        metrics_output = self._metrics_output()
        if metrics_output:
            metrics = {t.run_id: {n: v[0] if len(v) == 1 else v for n, v in t.metrics.items()} for t in self.trials}
            out[metrics_output["name"]] = {"datastore": metrics_output.get("datastore"),
                                           "path": metrics_output["path"],
                                           "files": {METRICS_OUTPUT_FILE: json.dumps(metrics, indent=2)}}
        best = next((t for t in self.trials if self.best and t.run_id == self.best["run_id"]), None)
        for name in (self.step_outputs or {}).get("outputs") or []:
            entry = next((e for e in (best.outputs if best else [])
                          if (e.get("outputDetails") or {}).get("outputName") == name), None)
            if entry is not None:
                out[name] = entry
        return out

    def _plot(self) -> dict[str, str]:
        """The primary metric over trials and intervals as a PNG (base64), when matplotlib is there."""
        if not any(t.values for t in self.trials):
            return {}
        try:
            png = render_sweep_plot([(t.index, t.status, t.values) for t in self.trials],
                                    self.primary_metric_name, self.goal)
        except Exception:  # noqa: BLE001 - the picture is a courtesy: a sweep never fails for want of it
            return {}
        return {PLOT_FILE: base64.b64encode(png).decode("ascii")}

    def _final_status(self) -> tuple[str, dict[str, Any] | None]:
        if self.ending and self.ending.get("status"):
            return self.ending["status"], self.ending.get("error")
        failed = [t for t in self.trials if t.status == RunStatus.FAILED.value]
        if self.trials and len(failed) == len(self.trials):
            first = failed[0].error or {}
            return RunStatus.FAILED.value, {
                "code": "AllTrialsFailed",
                "message": f"all {len(failed)} trials failed; the first, {failed[0].run_id}: "
                           f"{first.get('message', 'no error recorded')}"}
        return RunStatus.COMPLETED.value, None

    def summary(self, status: str, reason: str) -> dict[str, Any]:
        """The sweep in one JSON document: limits, best trial and every trial (best first)."""
        def order(t: Trial) -> tuple[int, float]:
            value = t.best(self.goal)
            if value is None:
                return (1, 0.0)
            return (0, -value if self.goal == "maximize" else value)

        return {
            "parent_run_id": self.parent_run_id, "status": status, "end_reason": reason,
            "primary_metric": {"name": self.primary_metric_name, "goal": self.goal},
            "sampling": self.sampling["name"], "policy": self.policy_json,
            "max_total_runs": self.max_total_runs, "max_concurrent_runs": self.max_concurrent_runs,
            "best": self.best, "warm_start_trials": len(self.history),
            "trials": [{"run_id": t.run_id, "index": t.index, "hyperparameters": t.hyperparameters,
                        "status": t.status, "best_primary_metric": t.best(self.goal),
                        "intervals": len(t.values), "stop_reason": t.stop_reason}
                       for t in sorted(self.trials, key=order)],
        }
