"""``CommandStep``: a command as a pipeline step (v1 §7.3), configured by a ``ScriptRunConfig``
or a ``RunConfiguration``.

With a ScriptRunConfig, its source directory is used when the step names none, its
``command`` when the step gives none, and its run configuration always; its ``script`` and
``arguments`` are ignored, as in v1. The command is kept as given: a string runs through the
shell, a list is the argv (v1 split a first element holding spaces; so does this).
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from scriptrun.config.runconfig import RunConfiguration, name_of
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.pipeline.python_script_step import _copy_run_config
from scriptrun.pipeline.step import PipelineStep


class CommandStep(PipelineStep):
    """Runs ``command`` (str or list) with the settings of ``runconfig``."""

    def __init__(self, command: str | list[Any] | None = None, name: str | None = None, compute_target: Any = None,
                 runconfig: ScriptRunConfig | RunConfiguration | None = None,
                 runconfig_pipeline_params: dict[str, Any] | None = None, inputs: list[Any] | None = None,
                 outputs: list[Any] | None = None, params: dict[str, Any] | None = None,
                 source_directory: str | os.PathLike[str] | None = None, allow_reuse: bool = True,
                 version: str | None = None):
        problems: list[Problem] = []
        if runconfig is not None and not isinstance(runconfig, (ScriptRunConfig, RunConfiguration)):
            problems.append(Problem("CommandStep.runconfig", f"expected a ScriptRunConfig or RunConfiguration, got "
                                    f"{type(runconfig).__name__}"))
            runconfig = None
        if command is None and runconfig is not None:
            command = runconfig.command or None
        if command is None or command in ("", []):
            problems.append(Problem("CommandStep.command", "command is required: give `command`, or a "
                                    "ScriptRunConfig/RunConfiguration that has one",
                                    hint="CommandStep(command='python train.py --epochs 3') or "
                                         "CommandStep(runconfig=ScriptRunConfig('src', command=[...]))"))
        elif not isinstance(command, (str, list, tuple)):
            problems.append(Problem("CommandStep.command", f"expected a str or a list, got {type(command).__name__}"))
        if source_directory is not None and not os.path.isdir(source_directory):
            problems.append(Problem("CommandStep.source_directory", f"{os.fspath(source_directory)} is not a "
                                    "directory", hint="point it at the folder that holds the step's code"))
        self.command = _argv(command) if isinstance(command, (list, tuple)) else command
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.source_directory = os.fspath(source_directory) if source_directory is not None else None
        super().__init__(name if name is not None else _default_name(self.command), inputs=inputs, outputs=outputs,
                         params=params, allow_reuse=allow_reuse, version=version,
                         runconfig_pipeline_params=runconfig_pipeline_params, problems=problems)

    def _builder(self, default_source_directory: str | None) -> tuple[ScriptRunConfig, bool]:
        given = self.runconfig
        source = self.source_directory
        if isinstance(given, ScriptRunConfig):
            source = source or given.source_directory
            rc = _copy_run_config(given.run_config)
        else:
            rc = _copy_run_config(given) if given is not None else RunConfiguration()
        rc.command, rc.script, rc.arguments = None, None, []
        if self.compute_target is not None:
            rc.target = name_of(self.compute_target)
        source = source or default_source_directory or os.getcwd()
        if not os.path.isdir(source):
            raise ConfigError(Problem("source_directory", f"{source} is not a directory",
                                      hint="set CommandStep(source_directory=...) or the pipeline's "
                                           "default_source_directory"))
        src = ScriptRunConfig(source_directory=source, run_config=rc)
        src.command = list(self.command) if isinstance(self.command, list) else self.command
        return src, True


def _argv(command: list[Any] | tuple[Any, ...]) -> list[Any]:
    items = list(command)
    if items and isinstance(items[0], str) and " " in items[0].strip():
        return [*shlex.split(items[0]), *items[1:]]
    return items


def _default_name(command: Any) -> str:
    first = command[0] if isinstance(command, list) and command else command
    words = shlex.split(first) if isinstance(first, str) else []
    word = os.path.basename(words[0]) if words else "command"
    safe = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in word)
    return f"CommandStep_{safe}"
