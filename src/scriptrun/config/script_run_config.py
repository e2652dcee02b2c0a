"""``ScriptRunConfig``: the one job configuration object (v1-compatible builder).

Two forms reduce to the same :class:`~scriptrun.spec.job.JobSpec`:

* new: ``ScriptRunConfig(source_directory, script=..., compute_target=..., environment=...,
  distributed_job_config=..., node_count=...)``;
* legacy: ``ScriptRunConfig(source_directory, script, arguments, run_config=RunConfiguration(...))``
  then mutation of ``src.run_config`` — read at submission, as in v1.

In both forms the settings live in ``self.run_config`` (the new-form keywords fill a fresh
``RunConfiguration`` exactly as v1 does), so there is one reduction path:
:meth:`ScriptRunConfig.to_job_spec`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scriptrun.config.data_fields import DATA_TYPES, check_data_arguments, data_fields
from scriptrun.config.distributed import (
    DISTRIBUTED_CONFIG_CLASSES,
    DockerConfiguration,
    distributed_config_from_spec,
)
from scriptrun.config.legacy_distributed import distributed_config
from scriptrun.config.prepare import prepare_job
from scriptrun.config.run_data import inputs_from_run_config_data
from scriptrun.config.runconfig import RunConfiguration, argument_list, name_of
from scriptrun.data.consumption import DatasetConsumptionConfig
from scriptrun.data.output import OutputFileDatasetConfig
from scriptrun.environment.environment import DEFAULT_ENVIRONMENT_NAME, Environment
from scriptrun.errors import ConfigError, Problem
from scriptrun.runs.experiment import register_submit_function
from scriptrun.runs.submit import submit_job
from scriptrun.spec.checks import check_spec, raise_problems
from scriptrun.spec.job import MAX_DURATION_SECONDS_DEFAULT, EnvironmentSpec, JobSpec
from scriptrun.spec.problems import format_path, validate_model
from scriptrun.spec.yamlio import job_spec_to_yaml, load_job_yaml
from scriptrun.workspace import Workspace

_SCALARS = (str, int, float, bool)
_DISTRIBUTED_NAMES = ", ".join(c.__name__ for c in DISTRIBUTED_CONFIG_CLASSES)


def _run_config_property(attr: str, doc: str) -> property:
    """A ScriptRunConfig attribute that lives in ``run_config.<attr>``."""
    return property(lambda self: getattr(self.run_config, attr),
                    lambda self, value: setattr(self.run_config, attr, value), doc=f"{doc} (``run_config.{attr}``)")


class ScriptRunConfig:
    """What to run (``script`` + ``arguments``, or ``command``) from ``source_directory``,
    where (``compute_target``), in which ``environment``, on how many nodes/processes.

    Documented aliases (the estimators' and the seed design's spellings): ``entry_script`` for
    ``script``; ``distributed_training`` and ``communicator`` for ``distributed_job_config``,
    which also take v1's legacy ``Mpi``/``Gloo``/``Nccl``/``ParameterServer`` objects.
    """

    MAX_DURATION_SECONDS_DEFAULT = MAX_DURATION_SECONDS_DEFAULT

    def __init__(self, source_directory: str | os.PathLike[str], script: str | None = None,
                 arguments: list[Any] | str | None = None, run_config: RunConfiguration | None = None,
                 _telemetry_values: dict[str, Any] | None = None, compute_target: Any = None,
                 environment: Environment | str | None = None, distributed_job_config: Any = None,
                 resume_from: Any = None, max_run_duration_seconds: int | None = MAX_DURATION_SECONDS_DEFAULT,
                 command: str | list[Any] | None = None, docker_runtime_config: DockerConfiguration | None = None,
                 *, inputs: list[Any] | None = None, outputs: list[Any] | None = None,
                 node_count: int | None = None,
                 source_directory_data_store: Any = None, job_config: Any = None,
                 entry_script: str | None = None, distributed_training: Any = None, communicator: Any = None,
                 secret_environment_variables: list[str] | None = None):
        problems: list[Problem] = []
        script, distributed_job_config = _aliases(problems, script, entry_script, distributed_job_config,
                                                  distributed_training, communicator, node_count)
        if job_config is not None:
            if distributed_job_config is not None:
                problems.append(Problem("job_config", "`job_config` and `distributed_job_config` are both given",
                                        hint="`job_config` is another name for `distributed_job_config`; give one"))
            else:
                distributed_job_config = job_config
        problems += _check_arguments(locals())
        if problems:
            raise ConfigError(problems)

        self.source_directory = os.fspath(source_directory)
        self.script = os.fspath(script) if script is not None else None
        self.arguments: Any = argument_list(arguments)
        self.command: Any = list(command) if isinstance(command, tuple) else command
        self.inputs = list(inputs) if inputs is not None else None
        self.outputs = list(outputs) if outputs is not None else None
        self.resume_from = resume_from  # v1: a DataPath; the job gets `--resume-from <local path>`
        self._telemetry_values = _telemetry_values
        self._yaml_file: str | None = None
        self._yaml_lines: dict[str, int] | None = None

        if run_config is not None:
            self._adopt_run_config(run_config, compute_target=compute_target, environment=environment,
                                   distributed_job_config=distributed_job_config,
                                   docker_runtime_config=docker_runtime_config,
                                   max_run_duration_seconds=max_run_duration_seconds, node_count=node_count,
                                   source_directory_data_store=source_directory_data_store,
                                   secret_environment_variables=secret_environment_variables)
            return
        rc = RunConfiguration()
        rc.target = compute_target or "local"
        rc.environment = environment if environment is not None else Environment(DEFAULT_ENVIRONMENT_NAME)
        rc.max_run_duration_seconds = max_run_duration_seconds
        rc._set_distributed(distributed_job_config)
        if node_count is not None:
            rc.node_count = node_count
        elif distributed_job_config is not None:
            rc.node_count = distributed_job_config.node_count
        if docker_runtime_config is not None:
            rc.docker = docker_runtime_config
        rc.source_directory_data_store = name_of(source_directory_data_store)
        if secret_environment_variables is not None:
            rc.secret_environment_variables = secret_environment_variables
        self.run_config = rc

    def _adopt_run_config(self, run_config: RunConfiguration, **ignored: Any) -> None:
        """v1 §2.2: a given run_config *is* the configuration; the other keywords are ignored."""
        defaults = {"max_run_duration_seconds": MAX_DURATION_SECONDS_DEFAULT}
        names = [name for name, value in ignored.items()
                 if (value != defaults[name] if name in defaults else value is not None)]
        if names:
            warnings.warn(f"ScriptRunConfig: run_config is given, so {', '.join(names)} "
                          f"{'is' if len(names) == 1 else 'are'} ignored; set them on run_config instead, "
                          "or drop run_config", UserWarning, stacklevel=3)
        for field in ("script", "arguments", "command"):
            mine, theirs = getattr(self, field), getattr(run_config, field)
            if mine and theirs and mine != theirs:
                warnings.warn(f"ScriptRunConfig: `{field}` is given both to the constructor and in run_config; "
                              "the constructor's value is used", UserWarning, stacklevel=3)
            elif not mine and theirs:
                setattr(self, field, theirs)
        self.run_config = run_config

    # -- settings that live in run_config (one place, whichever form built it) -----------

    compute_target = _run_config_property("target", "The compute target name.")
    environment = _run_config_property("environment", "The job's environment.")
    node_count = _run_config_property("node_count", "Number of nodes.")
    max_run_duration_seconds = _run_config_property("max_run_duration_seconds", "Time limit of the run in seconds.")
    docker_runtime_config = _run_config_property("docker", "Container runtime settings.")
    source_directory_data_store = _run_config_property("source_directory_data_store",
                                                       "Datastore backing the project share.")
    secret_environment_variables = _run_config_property(
        "secret_environment_variables", "Names of secret variables: values come from the submitting environment "
                                        "or .scriptrun/secrets.env and are never stored with the run.")

    @property
    def distributed_job_config(self) -> Any:
        """The active distributed configuration (from ``run_config.communicator``), or None."""
        return self.run_config._distributed_config()

    @distributed_job_config.setter
    def distributed_job_config(self, value: Any) -> None:
        self.run_config._set_distributed(value)

    job_config = distributed_job_config

    # -- reduction to the spec ------------------------------------------------------------

    def to_job_spec(self) -> JobSpec:
        """The canonical, validated :class:`JobSpec` of this configuration as it is now.

        Pure: shape rules and cross-field rules only (files, compute targets and registered
        environments are checked by :func:`prepare_job`). Raises one ConfigError listing
        every problem.
        """
        problems: list[Problem] = []
        rc = self.run_config
        if not isinstance(rc, RunConfiguration):
            raise_problems(problems + [_run_config_problem(rc)], file=self._yaml_file, lines=self._yaml_lines)
        data, rc_problems = rc._spec_data()
        problems += rc_problems
        if self.script:
            data["script"] = self.script
        if self.arguments:
            data["arguments"] = argument_list(self.arguments)
        if self.command:
            data["command"] = list(self.command) if isinstance(self.command, (list, tuple)) else self.command
        data["source_directory"] = _absolute(self.source_directory)
        legacy_inputs, legacy_problems = inputs_from_run_config_data(rc.data)
        problems += legacy_problems
        inputs = [*(self.inputs or []), *legacy_inputs] if legacy_inputs else self.inputs
        data_problems = data_fields(data, inputs, self.outputs, self.resume_from)
        problems += data_problems
        try:
            spec = validate_model(JobSpec, data)
        except ConfigError as exc:
            raise_problems(problems + exc.problems, file=self._yaml_file, lines=self._yaml_lines)
            raise  # unreachable: raise_problems raised
        raise_problems(problems + check_spec(spec), file=self._yaml_file, lines=self._yaml_lines)
        return spec

    # -- YAML -----------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, file_name: str | os.PathLike[str]) -> ScriptRunConfig:
        """Load a job YAML file (keys are this constructor's keyword names).

        The file and its line numbers are remembered, so problems found later (at
        submission) still point at the line to fix.
        """
        file = str(file_name)
        spec, raw_lines = load_job_yaml(file)  # one parse gives the spec and its lines
        lines = {format_path(loc): line for loc, line in raw_lines.items()}
        try:
            src = cls._from_spec(spec)
        except ConfigError as exc:
            raise_problems(exc.problems, file=file, lines=lines)
            raise
        src._yaml_file, src._yaml_lines = file, lines
        return src

    @classmethod
    def _from_spec(cls, spec: JobSpec) -> ScriptRunConfig:
        """A builder equivalent to ``spec`` (its ``to_job_spec()`` gives ``spec`` back)."""
        env = spec.environment
        if isinstance(env, EnvironmentSpec):
            env = Environment._from_spec(env)
        docker = spec.docker_runtime_config
        src = cls(spec.source_directory, script=spec.script, arguments=list(spec.arguments),
                  command=list(spec.command) if isinstance(spec.command, list) else spec.command,
                  compute_target=spec.compute_target, environment=env,
                  distributed_job_config=distributed_config_from_spec(spec.distributed_job_config),
                  max_run_duration_seconds=spec.max_run_duration_seconds,
                  docker_runtime_config=DockerConfiguration._from_spec(docker) if docker is not None else None,
                  node_count=spec.node_count, source_directory_data_store=spec.source_directory_data_store)
        src.run_config.environment_variables = dict(spec.environment_variables)
        src.run_config.secret_environment_variables = list(spec.secret_environment_variables)
        src.inputs = [DatasetConsumptionConfig._from_spec(n, i) for n, i in spec.inputs.items()] or None
        src.outputs = [OutputFileDatasetConfig._from_spec(n, o) for n, o in spec.outputs.items()] or None
        src.resume_from = spec.resume_from
        return src

    def to_yaml(self, file_name: str | os.PathLike[str]) -> str:
        """Write the canonical YAML of :meth:`to_job_spec` to ``file_name`` (``source_directory``
        relative to the file); return the text."""
        Path(file_name).parent.mkdir(parents=True, exist_ok=True)
        return job_spec_to_yaml(self.to_job_spec(), file_name)

    def __repr__(self) -> str:
        return (f"ScriptRunConfig(source_directory={self.source_directory!r}, script={self.script!r}, "
                f"command={self.command!r}, compute_target={self.compute_target!r})")


# -- construction checks ------------------------------------------------------------------


def _check_arguments(given: Mapping[str, Any]) -> list[Problem]:
    """Types and shapes of the constructor's keywords: every problem, not just the first."""
    problems: list[Problem] = []

    def bad(path: str, message: str, hint: str | None = None) -> None:
        problems.append(Problem(path, message, hint))

    source = given["source_directory"]
    if source is None:
        bad("source_directory", "required: the folder holding the training code",
            hint="ScriptRunConfig(source_directory='.', script='train.py')")
    elif not isinstance(source, (str, os.PathLike)):
        bad("source_directory", f"expected a path (str or os.PathLike), got {type(source).__name__}")
    if given["script"] is not None and not isinstance(given["script"], (str, os.PathLike)):
        bad("script", f"expected a str (path relative to source_directory), got {type(given['script']).__name__}")
    problems += _check_list("arguments", given["arguments"], str_ok=True)
    problems += _check_list("command", given["command"], str_ok=True)
    run_config = given["run_config"]
    if run_config is not None and not isinstance(run_config, RunConfiguration):
        problems.append(_run_config_problem(run_config))
    target = given["compute_target"]
    if target is not None and not isinstance(name_of(target), str):
        bad("compute_target", f"expected 'local', a compute target name or a compute target object, got {target!r}")
    env = given["environment"]
    if env is not None and not isinstance(env, (Environment, str)):
        bad("environment", f"expected an Environment or a registered name 'name[:version]', got {type(env).__name__}",
            hint="Environment.get(ws, 'name') or environment='name:1'")
    dist = given["distributed_job_config"]
    if dist is not None and not isinstance(dist, DISTRIBUTED_CONFIG_CLASSES):
        bad("distributed_job_config", f"expected a distributed job configuration, got {dist!r}",
            hint=f"use one of {_DISTRIBUTED_NAMES}, e.g. MpiConfiguration(process_count_per_node=4)")
        dist = None
    docker = given["docker_runtime_config"]
    if docker is not None and not isinstance(docker, DockerConfiguration):
        bad("docker_runtime_config", f"expected a DockerConfiguration, got {docker!r}")
    node_count = given["node_count"]
    if node_count is not None:
        if not _is_int(node_count):
            bad("node_count", f"expected a whole number >= 1, got {node_count!r}")
        elif node_count < 1:
            bad("node_count", f"must be at least 1, got {node_count}")
        elif dist is not None and _is_int(dist.node_count) and dist.node_count != 1 and dist.node_count != node_count:
            where = "worker_count" if hasattr(dist, "worker_count") else "node_count"
            bad("node_count", f"node_count={node_count} conflicts with distributed_job_config.{where}="
                f"{dist.node_count}", hint="give the node count in one place only")
    duration = given["max_run_duration_seconds"]
    if duration is not None and (not _is_int(duration) or duration <= 0):
        bad("max_run_duration_seconds", f"expected a whole number of seconds > 0, got {duration!r}")
    store = given["source_directory_data_store"]
    if store is not None and not isinstance(name_of(store), str):
        bad("source_directory_data_store", f"expected a datastore name or object, got {store!r}")
    problems += check_data_arguments(given["inputs"], given["outputs"], given["resume_from"])
    return problems


def _aliases(problems: list[Problem], script: Any, entry_script: Any, distributed_job_config: Any,
             distributed_training: Any, communicator: Any, node_count: int | None) -> tuple[Any, Any]:
    """The documented aliases: ``entry_script`` (the estimators' and the seed design's name for
    ``script``), ``distributed_training`` and ``communicator`` (for ``distributed_job_config``,
    also taking v1's legacy ``Mpi``/``Gloo``/``Nccl``/``ParameterServer`` objects)."""
    if entry_script is not None:
        if script is not None:
            problems.append(Problem("entry_script", "`entry_script` and `script` are both given",
                                    hint="`entry_script` is another name for `script`; give one"))
        script = entry_script
    for name, value in (("distributed_training", distributed_training), ("communicator", communicator)):
        if value is None:
            continue
        if isinstance(value, str):
            problems.append(Problem(name, f"{name}={value!r}: a communicator name is a RunConfiguration setting",
                                    hint="pass distributed_job_config=MpiConfiguration(process_count_per_node=N) "
                                         "(or PyTorchConfiguration / TensorflowConfiguration)"))
        elif distributed_job_config is not None:
            problems.append(Problem(name, f"`{name}` and `distributed_job_config` are both given",
                                    hint=f"`{name}` is another name for `distributed_job_config`; give one"))
        else:
            try:
                distributed_job_config = distributed_config(value, node_count=node_count or 1)
            except ConfigError as exc:
                problems += [Problem(name, p.message, p.hint) for p in exc.problems]
    return script, distributed_job_config


def _check_list(field: str, value: Any, *, str_ok: bool) -> list[Problem]:
    if value is None or (str_ok and isinstance(value, str)):
        return []
    if not isinstance(value, (list, tuple)):
        return [Problem(field, f"expected a list (or a str), got {type(value).__name__}")]
    return [Problem(f"{field}[{i}]", f"expected str, int, float, bool or a data object, got {type(item).__name__}",
                    hint="data goes in as ds.as_named_input('name'), .as_mount(), OutputFileDatasetConfig(...) "
                         "or a DataReference")
            for i, item in enumerate(value) if not isinstance(item, (*_SCALARS, *DATA_TYPES))]


def _run_config_problem(value: Any) -> Problem:
    hint = ("load a saved configuration with RunConfiguration.load(path, name) and pass that"
            if isinstance(value, (str, os.PathLike)) else "pass a RunConfiguration, or leave run_config out")
    return Problem("run_config", f"expected a RunConfiguration, got {type(value).__name__} {value!r}", hint=hint)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _absolute(source: Any) -> Any:
    if isinstance(source, (str, os.PathLike)):
        return os.path.abspath(os.path.expanduser(os.fspath(source)))
    return source


# -- submission ---------------------------------------------------------------------------


def _submit(config: ScriptRunConfig, workspace: Workspace, experiment_name: str, *,
            tags: dict[str, str] | None = None, run_id: str | None = None,
            _parent_run_id: str | None = None, **kwargs: Any) -> Any:
    """``Experiment.submit(ScriptRunConfig)``: validate fully, then the one submission path."""
    if kwargs:
        raise TypeError(f"Experiment.submit() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    spec = prepare_job(config, workspace)
    return submit_job(spec, workspace, experiment_name, tags=tags, run_id=run_id,
                      parent_run_id=_parent_run_id, yaml_origin=config._yaml_file)


register_submit_function(ScriptRunConfig, _submit)
