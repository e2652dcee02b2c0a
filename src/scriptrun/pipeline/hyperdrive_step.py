"""``HyperDriveStep``: a HyperDrive sweep as a pipeline step (v1 §7.7).

The step is the sweep's base job — the ``HyperDriveConfig``'s ``ScriptRunConfig`` (or its
deprecated estimator with ``estimator_entry_script_arguments``) — lowered like any step, so its
inputs are bound to upstream outputs and its pipeline parameters filled in. The pipeline's
controller then submits it as a *sweep* child: the agent's controller host starts a
:class:`~scriptrun.hyperdrive.controller.SweepController` for it, whose trials are that job
with their hyperparameters appended.

What the step passes downstream:

* ``metrics_output`` (a ``PipelineData`` or ``OutputFileDatasetConfig``): a folder holding
  ``metrics.json``, every trial's metrics as ``{trial run id: {metric: value or [values]}}``;
* each of ``outputs``: that output of the **best** trial (by the primary metric).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from scriptrun.agent.controllers import controller_path
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.data.output import OutputFileDatasetConfig
from scriptrun.errors import Problem
from scriptrun.hyperdrive.config import HyperDriveConfig
from scriptrun.hyperdrive.controller import SweepController
from scriptrun.hyperdrive.run import DEFINITION_PROPERTY
from scriptrun.hyperdrive.submission import sweep_controller
from scriptrun.pipeline.pipeline_data import PipelineData
from scriptrun.pipeline.step import Lowered, PipelineStep
from scriptrun.rundir import RunKind
from scriptrun.spec.reuse import digest

DEFAULT_METRICS_OUTPUT = "metrics_output"


class HyperDriveStep(PipelineStep):
    """Runs the sweep ``hyperdrive_config`` as one step (see the module docstring)."""

    def __init__(self, name: str, hyperdrive_config: HyperDriveConfig,
                 estimator_entry_script_arguments: list[Any] | None = None, inputs: list[Any] | None = None,
                 outputs: list[Any] | None = None, metrics_output: PipelineData | OutputFileDatasetConfig | None = None,
                 allow_reuse: bool = True, version: str | None = None):
        problems: list[Problem] = []
        estimator = getattr(hyperdrive_config, "estimator", None)
        if not isinstance(hyperdrive_config, HyperDriveConfig):
            problems.append(Problem("HyperDriveStep.hyperdrive_config", f"expected a HyperDriveConfig, got "
                                    f"{type(hyperdrive_config).__name__}",
                                    hint="HyperDriveConfig(run_config=src, hyperparameter_sampling=..., ...)"))
        elif estimator is not None:
            if estimator_entry_script_arguments is None:
                problems.append(Problem("HyperDriveStep.estimator_entry_script_arguments", "required with an "
                                        "estimator-based HyperDriveConfig (use [] for none), as in v1",
                                        hint="better: HyperDriveConfig(run_config=ScriptRunConfig(...)) and the "
                                             "arguments on the ScriptRunConfig"))
            elif not isinstance(estimator_entry_script_arguments, (list, tuple)):
                problems.append(Problem("HyperDriveStep.estimator_entry_script_arguments", f"expected a list, got "
                                        f"{type(estimator_entry_script_arguments).__name__}"))
            if estimator._params.get("script_params"):
                problems.append(Problem("HyperDriveStep.hyperdrive_config", "the estimator of a HyperDriveStep "
                                        "must not have script_params",
                                        hint="pass them as estimator_entry_script_arguments=[...]"))
        elif estimator_entry_script_arguments is not None:
            problems.append(Problem("HyperDriveStep.estimator_entry_script_arguments", "given with a ScriptRunConfig-"
                                    "based HyperDriveConfig, whose arguments are the ScriptRunConfig's",
                                    hint="set arguments=[...] on the ScriptRunConfig and drop "
                                         "estimator_entry_script_arguments"))
        if isinstance(hyperdrive_config, HyperDriveConfig) and (hyperdrive_config.resume_from
                                                                or hyperdrive_config.resume_child_runs):
            problems.append(Problem("HyperDriveStep.hyperdrive_config", "resume_from / resume_child_runs are not "
                                    "supported in a pipeline step", hint="warm-start with a standalone sweep "
                                                                         "(experiment.submit(hyperdrive_config))"))
        if metrics_output is not None and not isinstance(metrics_output, (PipelineData, OutputFileDatasetConfig)):
            problems.append(Problem("HyperDriveStep.metrics_output", f"expected a PipelineData or "
                                    f"OutputFileDatasetConfig, got {type(metrics_output).__name__}",
                                    hint=f"metrics_output=PipelineData({DEFAULT_METRICS_OUTPUT!r})"))
            metrics_output = None
        self.hyperdrive_config = hyperdrive_config
        self.estimator_entry_script_arguments = (list(estimator_entry_script_arguments)
                                                 if isinstance(estimator_entry_script_arguments, (list, tuple))
                                                 else None)
        self.metrics_output = metrics_output
        # read by the pipeline (producers reached through the job's arguments) and by the base class
        self.script_run_config = getattr(hyperdrive_config, "run_config", None)
        super().__init__(name, inputs=inputs, outputs=outputs, allow_reuse=allow_reuse, version=version,
                         problems=problems)
        if metrics_output is not None:
            metrics_output._producer_step = self  # type: ignore[union-attr]

    def _builder(self, default_source_directory: str | None) -> tuple[ScriptRunConfig, bool]:
        config = self.hyperdrive_config
        if config.estimator is None:
            return config.run_config, False
        src = copy.copy(config.estimator.to_script_run_config())
        src.arguments = list(self.estimator_entry_script_arguments or [])
        return src, True  # v1's estimator rule: data in the arguments is listed in inputs/outputs

    def _lower(self, default_source_directory: str | None) -> Lowered:
        out = super()._lower(default_source_directory)
        if self.metrics_output is not None:
            out.produced.append((self.metrics_output, _output_name(self.metrics_output)))
        return out

    def _sweep(self, outputs: list[str]) -> dict[str, Any]:
        """What the pipeline controller needs to start this step's sweep: the controller class
        and its state without the parent run id, base spec and snapshot (filled in per run),
        and the part of the reuse key that the sweep's definition adds."""
        config = self.hyperdrive_config
        metrics = None
        if self.metrics_output is not None:
            target = (self.metrics_output._output() if isinstance(self.metrics_output, PipelineData)
                      else self.metrics_output)
            metrics = {"name": _output_name(self.metrics_output), "datastore": target.datastore,
                       "path": target.path}
        controller = sweep_controller(config, parent_run_id="", base_spec={}, snapshot_id=None,
                                      step_outputs={"metrics_output": metrics, "outputs": outputs})
        state = controller.to_state()
        definition = {**config._definition(), "rng_seed": (config.hyperparameter_sampling.properties or {})
                      .get("rng_seed"), "step_outputs": state["step_outputs"]}
        properties = {DEFINITION_PROPERTY: json.dumps(config._definition()),  # HyperDriveRun(exp, id) reads it
                      "primary_metric_config": json.dumps(config._definition()["primary_metric_config"])}
        return {"controller": controller_path(SweepController), "kind": RunKind.SWEEP.value, "state": state,
                "properties": properties, "component": digest(definition)}


def _output_name(item: PipelineData | OutputFileDatasetConfig) -> str:
    return item.output_name if isinstance(item, PipelineData) else item.name
