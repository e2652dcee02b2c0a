"""``prepare_job``: a ``ScriptRunConfig`` and a workspace → the JobSpec that will run.

This is the full validation pass that ``Experiment.submit`` and ``scriptrun validate FILE``
run: the builder is read once into a spec, registered environment names and datasets are resolved
(a dataset reference is pinned to its current version), and the environment-dependent
checks (files, data paths, datastores, compute targets, what this machine can build, that every
secret has a value) are applied.
Every problem is reported together, pointing at the YAML file and line when the config came
from YAML.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

from scriptrun.compute.targets import make_backend, resolve_compute_name, target_definitions
from scriptrun.data.resolve import resolve_data
from scriptrun.environment.environment import resolve_reference
from scriptrun.errors import ConfigNotice, Problem, WorkspaceError
from scriptrun.spec.checks import (
    check_for_submit,
    default_communication_backend,
    raise_problems,
)
from scriptrun.spec.job import LOCAL_TARGET, DockerSpec, JobSpec
from scriptrun.workspace import Workspace
from scriptrun.workspace.keyvault import resolve_secrets

if TYPE_CHECKING:
    from scriptrun.config.script_run_config import ScriptRunConfig


def prepare_job(config: ScriptRunConfig, workspace: Workspace) -> JobSpec:
    """The validated, resolved :class:`JobSpec` of ``config`` in ``workspace``; raises one
    ConfigError listing every problem."""
    spec = config.to_job_spec()
    problems: list[Problem] = []
    target = resolve_compute_name(workspace, spec.compute_target)  # `compute_aliases: {cpu-cluster: local}`
    if target != spec.compute_target:
        spec = spec.model_copy(update={"compute_target": target})
    if isinstance(spec.environment, str):
        try:
            env = resolve_reference(workspace, spec.environment)
        except WorkspaceError as exc:
            problems.append(Problem("environment", str(exc),
                                    hint="register it first with Environment(...).register(ws)"))
        else:
            update: dict[str, object] = {"environment": env._to_spec()}
            runtime = env._docker_runtime_data()
            if spec.docker_runtime_config is None and runtime is not None:
                update["docker_runtime_config"] = DockerSpec.model_validate(runtime)
            spec = spec.model_copy(update=update)
    spec, notice = default_communication_backend(spec, from_yaml=config._yaml_file is not None)
    if notice:
        warnings.warn(notice, ConfigNotice, stacklevel=3)
    spec, data_problems = resolve_data(spec, workspace)
    problems += data_problems
    if spec.secret_environment_variables:
        try:  # only checked here: the values are taken again at submission, never kept
            resolve_secrets(spec.secret_environment_variables, os.environ, workspace)
        except WorkspaceError as exc:
            problems.append(Problem("secret_environment_variables", exc.message))
    targets = target_definitions(workspace)
    problems += check_for_submit(spec, known_targets=targets)
    if spec.compute_target == LOCAL_TARGET or spec.compute_target in targets:
        try:
            backend = make_backend(targets.get(spec.compute_target))
        except WorkspaceError as exc:
            problems.append(Problem("compute_target", str(exc), hint="attach it again, e.g. "
                                    "`scriptrun compute attach-ray NAME --address http://HEAD:8265`"))
        else:
            problems += backend.check(spec, workspace.tracking_uri)
    raise_problems(problems, file=config._yaml_file, lines=config._yaml_lines)
    return spec
