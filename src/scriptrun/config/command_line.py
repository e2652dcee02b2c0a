"""Build a ``ScriptRunConfig`` from command-line pieces (``scriptrun run submit-script``).

Sources, later ones winning: the job file given with ``-c`` (a job YAML, or a v1
``.runconfig`` file or name), the positional script and its arguments, ``-t TARGET``, then
each ``--set KEY=VALUE``. Everything is validated together as one job mapping, so problems
point at the YAML line they come from.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from scriptrun.config.runconfig import RunConfiguration
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.problems import Loc, format_path
from scriptrun.spec.yamlio import (
    apply_overrides,
    job_spec_from_mapping,
    job_spec_to_yaml_dict,
    load_yaml_with_lines,
)

JOB_FILE_SUFFIXES = (".yml", ".yaml", ".json")


def script_run_config_from_args(config_file: str | None = None, script_and_arguments: Sequence[str] = (), *,
                                source_directory: str | None = None, target: str | None = None,
                                overrides: Sequence[str] = ()) -> ScriptRunConfig:
    """The job that ``scriptrun run submit-script`` would submit."""
    file: str | None = None
    lines: dict[Loc, int] = {}
    base_dir = Path.cwd()
    if config_file and Path(config_file).suffix in JOB_FILE_SUFFIXES:
        file = config_file
        data, lines = load_yaml_with_lines(config_file)
        if not isinstance(data, dict):
            raise ConfigError(Problem("", "expected a mapping of job keys", file=file, line=1))
        base_dir = Path(config_file).resolve().parent
    elif config_file:
        run_config = RunConfiguration.load(source_directory or ".", config_file) \
            if not Path(config_file).is_file() else RunConfiguration.load(config_file)
        src = ScriptRunConfig(source_directory or ".", run_config=run_config)
        if script_and_arguments:  # v1: the positional script overrides the run configuration's
            src.script, src.command = script_and_arguments[0], None
        data = job_spec_to_yaml_dict(src.to_job_spec())
    else:
        data = {}
    if source_directory is not None:
        data["source_directory"] = os.path.abspath(source_directory)
    if script_and_arguments:
        data.pop("command", None)
        data["script"] = script_and_arguments[0]
        if len(script_and_arguments) > 1:
            data["arguments"] = list(script_and_arguments[1:])
    if target:
        data["compute_target"] = target
    spec = job_spec_from_mapping(apply_overrides(data, overrides), base_dir=base_dir, file=file, lines=lines,
                                 overrides=overrides)
    src = ScriptRunConfig._from_spec(spec)
    if file:
        src._yaml_file = file
        src._yaml_lines = {format_path(loc): line for loc, line in lines.items()}
    return src


def default_experiment_name(src: ScriptRunConfig) -> str:
    """The source folder's name made into a valid experiment name (v1's attached-folder default)."""
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in Path(src.source_directory).resolve().name)
    return name.lstrip("_-") or "Default"

