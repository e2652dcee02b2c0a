"""``PythonScriptStep``: a Python script as a pipeline step, in two forms.

* The seed's form, ``PythonScriptStep(name="train", script_run_config=src)``: everything —
  source directory, script or command, arguments, environment, target, distributed launch,
  data, deadline — comes from the ``ScriptRunConfig``; the step's ``inputs``/``outputs``
  only add port bindings. Moving a standalone run into a pipeline takes one line.
* v1's signature, ``PythonScriptStep(script_name, name, arguments, compute_target,
  runconfig, ..., source_directory)`` (§7.2), kept unchanged.

Both reduce to the JobSpec a standalone run of the equivalent ``ScriptRunConfig`` produces.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from scriptrun.config.runconfig import RunConfiguration, name_of
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.errors import Problem
from scriptrun.pipeline.step import PipelineStep


class PythonScriptStep(PipelineStep):
    """Runs a Python script (see the module docstring for the two forms)."""

    def __init__(self, script_name: str | None = None, name: str | None = None, arguments: list[Any] | None = None,
                 compute_target: Any = None, runconfig: RunConfiguration | None = None,
                 runconfig_pipeline_params: dict[str, Any] | None = None, inputs: list[Any] | None = None,
                 outputs: list[Any] | None = None, params: dict[str, Any] | None = None,
                 source_directory: str | os.PathLike[str] | None = None, allow_reuse: bool = True,
                 version: str | None = None, hash_paths: list[str] | None = None, *,
                 script_run_config: ScriptRunConfig | None = None):
        if isinstance(script_name, ScriptRunConfig) and script_run_config is None:
            script_name, script_run_config = None, script_name
        problems: list[Problem] = []
        if script_run_config is not None:
            if not isinstance(script_run_config, ScriptRunConfig):
                problems.append(Problem("PythonScriptStep.script_run_config",
                                        f"expected a ScriptRunConfig, got {type(script_run_config).__name__}"))
            given = [k for k, v in (("script_name", script_name), ("arguments", arguments),
                                    ("compute_target", compute_target), ("runconfig", runconfig),
                                    ("source_directory", source_directory)) if v is not None]
            for key in given:
                problems.append(Problem(f"PythonScriptStep.{key}", f"`{key}` is given together with "
                                        "script_run_config, which already carries it",
                                        hint=f"set it on the ScriptRunConfig ({_SRC_FIELD[key]}) and pass only "
                                             "script_run_config, or use the v1 form without script_run_config"))
            default_name = _script_name(script_run_config)
        else:
            if script_name is None:
                problems.append(Problem("PythonScriptStep.script_name", "required: the script to run",
                                        hint="PythonScriptStep(name='train', script_run_config=src), or v1's "
                                             "PythonScriptStep(script_name='train.py', source_directory='src')"))
            elif not isinstance(script_name, (str, os.PathLike)):
                problems.append(Problem("PythonScriptStep.script_name",
                                        f"expected a str, got {type(script_name).__name__}"))
            if runconfig is not None and not isinstance(runconfig, RunConfiguration):
                problems.append(Problem("PythonScriptStep.runconfig", f"expected a RunConfiguration, got "
                                        f"{type(runconfig).__name__}", hint="pass a ScriptRunConfig as "
                                        "script_run_config=src" if isinstance(runconfig, ScriptRunConfig) else None))
            if arguments is not None and not isinstance(arguments, (list, tuple)):
                problems.append(Problem("PythonScriptStep.arguments", f"expected a list, got "
                                        f"{type(arguments).__name__}"))
            default_name = os.fspath(script_name) if isinstance(script_name, (str, os.PathLike)) else "step"
        if hash_paths:
            warnings.warn("PythonScriptStep(hash_paths=...) is deprecated and ignored: the whole source directory "
                          "(minus .amlignore/.gitignore entries) is part of the step's reuse key", DeprecationWarning,
                          stacklevel=2)
        self.script_run_config = script_run_config
        self.script_name = os.fspath(script_name) if isinstance(script_name, os.PathLike) else script_name
        self.arguments = list(arguments or [])
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.source_directory = os.fspath(source_directory) if source_directory is not None else None
        super().__init__(name if name is not None else default_name, inputs=inputs, outputs=outputs,
                         params=params, allow_reuse=allow_reuse, version=version,
                         runconfig_pipeline_params=runconfig_pipeline_params, problems=problems)

    def _builder(self, default_source_directory: str | None) -> tuple[ScriptRunConfig, bool]:
        if self.script_run_config is not None:
            return self.script_run_config, False
        source = self.source_directory or default_source_directory or os.getcwd()
        rc = _copy_run_config(self.runconfig) if self.runconfig is not None else RunConfiguration()
        if self.compute_target is not None:
            target = self.compute_target
            rc.target = target[0] if isinstance(target, tuple) and len(target) == 2 else name_of(target)
        src = ScriptRunConfig(source_directory=source, script=self.script_name, run_config=rc)
        src.arguments = list(self.arguments)  # data objects are placed by the step's lowering
        return src, True


_SRC_FIELD = {"script_name": "script=", "arguments": "arguments=", "compute_target": "compute_target=",
              "runconfig": "its constructor keywords", "source_directory": "source_directory="}


def _script_name(src: Any) -> str:
    if not isinstance(src, ScriptRunConfig):
        return "step"
    if src.script:
        return os.path.splitext(os.path.basename(src.script))[0] or "step"
    return "step"


def _copy_run_config(rc: RunConfiguration) -> RunConfiguration:
    """A copy the step may change (target, variables, parameters) without touching the user's."""
    import copy

    out = copy.copy(rc)
    out.environment_variables = dict(rc.environment_variables or {})
    return out
