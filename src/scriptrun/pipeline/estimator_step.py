"""``EstimatorStep`` (deprecated, v1 §7.7): a pipeline step configured by a deprecated
estimator. The estimator is read once into its equivalent ``ScriptRunConfig``
(``Estimator.to_script_run_config()``), so the step is exactly the one
``PythonScriptStep(name=..., script_run_config=src)`` would be — the replacement the
``DeprecationWarning`` names.
"""

from __future__ import annotations

import warnings
from typing import Any

from scriptrun.config.estimator import Estimator
from scriptrun.config.runconfig import name_of
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.errors import Problem
from scriptrun.pipeline.python_script_step import _copy_run_config
from scriptrun.pipeline.step import PipelineStep


class EstimatorStep(PipelineStep):
    """Deprecated (v1): use ``PythonScriptStep(name=..., script_run_config=src)`` with the
    ScriptRunConfig the estimator's own warning prints."""

    def __init__(self, name: str | None = None, estimator: Estimator | None = None,
                 estimator_entry_script_arguments: list[Any] | None = None,
                 runconfig_pipeline_params: dict[str, Any] | None = None, inputs: list[Any] | None = None,
                 outputs: list[Any] | None = None, compute_target: Any = None, allow_reuse: bool = True,
                 version: str | None = None):
        warnings.warn("EstimatorStep is deprecated: use PythonScriptStep(name=..., script_run_config=src), where "
                      "src is the ScriptRunConfig the estimator's deprecation warning prints "
                      "(estimator.to_script_run_config())", DeprecationWarning, stacklevel=2)
        problems: list[Problem] = []
        if not isinstance(estimator, Estimator):
            problems.append(Problem("EstimatorStep.estimator", f"expected an Estimator, got "
                                    f"{type(estimator).__name__}", hint="better: PythonScriptStep(name=..., "
                                                                        "script_run_config=ScriptRunConfig(...))"))
        else:
            for key in ("script_params", "inputs"):
                if estimator._params.get(key):
                    problems.append(Problem(f"EstimatorStep.estimator.{key}", f"the estimator of an EstimatorStep "
                                            f"must not have {key}, as in v1",
                                            hint="pass arguments as estimator_entry_script_arguments=[...] and data "
                                                 "in the step's inputs=[...]"))
        if estimator_entry_script_arguments is None:
            problems.append(Problem("EstimatorStep.estimator_entry_script_arguments", "required (use [] for no "
                                    "arguments), as in v1"))
        elif not isinstance(estimator_entry_script_arguments, (list, tuple)):
            problems.append(Problem("EstimatorStep.estimator_entry_script_arguments", f"expected a list, got "
                                    f"{type(estimator_entry_script_arguments).__name__}"))
        self.estimator = estimator
        self.estimator_entry_script_arguments = (list(estimator_entry_script_arguments)
                                                 if isinstance(estimator_entry_script_arguments, (list, tuple))
                                                 else [])
        self.compute_target = compute_target
        default_name = "estimator_step"
        if isinstance(estimator, Estimator) and estimator._params.get("entry_script"):
            default_name = str(estimator._params["entry_script"]).rsplit("/", 1)[-1].removesuffix(".py")
        super().__init__(name if name is not None else default_name, inputs=inputs, outputs=outputs,
                         allow_reuse=allow_reuse, version=version,
                         runconfig_pipeline_params=runconfig_pipeline_params, problems=problems)

    def _builder(self, default_source_directory: str | None) -> tuple[ScriptRunConfig, bool]:
        assert self.estimator is not None
        src = self.estimator.to_script_run_config()
        src.run_config = _copy_run_config(src.run_config)
        src.arguments = list(self.estimator_entry_script_arguments)
        if self.compute_target is not None:
            src.run_config.target = name_of(self.compute_target)
        return src, True  # v1's rule: data in the arguments is also listed in inputs/outputs
