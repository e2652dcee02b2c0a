"""Cross-field and environment-dependent rules for a :class:`JobSpec`.

Shape and type rules live in the models (``job.py``). The rules here are small named
functions, each returning the problems it finds, so every problem is reported at once:

* :func:`check_spec` — pure rules that need nothing but the spec;
* :func:`check_for_submit` — the full pass run by ``Experiment.submit`` and
  ``scriptrun validate``: the pure rules plus files, compute targets and what this machine
  can provide.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.conda_pip import pip_requirements
from scriptrun.spec.job import (
    IDENTIFIER,
    LOCAL_TARGET,
    MODEL_LOCATION,
    DatasetSpec,
    EnvironmentSpec,
    JobSpec,
)
from scriptrun.spec.problems import did_you_mean

Check = Callable[[JobSpec], list[Problem]]


def check_entrypoint(spec: JobSpec) -> list[Problem]:
    if spec.script is not None and spec.command is not None:
        return [Problem("command", "`script` and `command` are both given",
                        hint="give either `script` (with `arguments`) or a full `command`, not both")]
    if spec.command is not None and spec.arguments:
        return [Problem("arguments", "`arguments` cannot be combined with `command`",
                        hint="append the arguments to `command` instead")]
    if spec.script is None and (spec.command is None or spec.command in ("", [])):
        return [Problem("script", "no entry point: neither `script` nor `command` is given",
                        hint="set `script='train.py'` or `command=['python', 'train.py']`")]
    return []


def check_distribution(spec: JobSpec) -> list[Problem]:
    dist = spec.distributed_job_config
    if dist is None:
        if spec.node_count > 1:
            return [Problem("node_count", f"node_count={spec.node_count} without a distributed_job_config",
                            hint="say how to launch on several nodes, e.g. "
                                 "distributed_job_config=PyTorchConfiguration(process_count=4, node_count=2)")]
        return []
    if dist.type == "tensorflow" and spec.node_count != dist.worker_count:
        return [Problem("node_count", f"node_count={spec.node_count} differs from "
                        f"distributed_job_config.worker_count={dist.worker_count}",
                        hint="a TensorFlow job runs one worker per node; leave node_count unset")]
    if dist.type == "pytorch" and dist.process_count is not None and dist.process_count % spec.node_count:
        return [Problem("distributed_job_config.process_count",
                        f"process_count={dist.process_count} does not split evenly over node_count={spec.node_count}",
                        hint="use a multiple of node_count, so that every node runs the same number of ranks")]
    return []


def check_data(spec: JobSpec) -> list[Problem]:
    """Input/output names are identifiers, placeholders name declared inputs/outputs, and a
    tabular dataset is only consumed ``direct``."""
    problems = []
    for kind, names in (("inputs", spec.inputs), ("outputs", spec.outputs)):
        for name in names:
            if not IDENTIFIER.match(name):
                problems.append(Problem(f"{kind}.{name}", f"{name!r} is not a valid {kind[:-1]} name: it becomes "
                                        "an environment variable and a `${{" + kind + ".NAME}}` placeholder",
                                        hint="use letters, digits and '_', not starting with a digit, e.g. "
                                             f"{_identifier(name)!r}"))
    for name in set(spec.inputs) & set(spec.outputs):
        problems.append(Problem(f"outputs.{name}", f"{name!r} names both an input and an output",
                                hint="give the output another name"))
    for name, item in spec.inputs.items():
        dataset = item.dataset
        if isinstance(dataset, DatasetSpec) and dataset.type == "tabular" and item.mode != "direct":
            problems.append(Problem(f"inputs.{name}.mode", f"a tabular dataset cannot be consumed in "
                                    f"{item.mode!r} mode", hint="use as_named_input(name) (direct mode) and read "
                                    "it with Run.get_context().input_datasets[name].to_pandas_dataframe()"))
    locations = [(f"inputs.{n}.dataset.paths[{i}].path", loc.path) for n, item in spec.inputs.items()
                 if isinstance(item.dataset, DatasetSpec) for i, loc in enumerate(item.dataset.paths)]
    locations += [(f"outputs.{n}.path", out.path) for n, out in spec.outputs.items()]
    if spec.resume_from is not None:
        locations.append(("resume_from.path", spec.resume_from.path))
    for where, path in locations:
        normal = posixpath.normpath(path.replace("\\", "/").lstrip("/")) if path.strip("/") else "."
        if normal == ".." or normal.startswith("../"):
            problems.append(Problem(where, f"{path!r} escapes the datastore root",
                                    hint="give a path inside the datastore, without `..` that climbs above its root"))
    if spec.resume_from is not None and MODEL_LOCATION in spec.inputs:
        problems.append(Problem("resume_from", f"`resume_from` uses the input name {MODEL_LOCATION}, "
                                "which `inputs` already has", hint=f"rename the input {MODEL_LOCATION}"))
    for where, kind, name in spec.placeholders():
        declared = spec.inputs if kind == "inputs" else spec.outputs
        if name not in declared:
            hint = did_you_mean(name, list(declared)) or (
                "an object embedded in a string (f'--data={cfg}') is only text: also pass it in "
                f"`{kind}=[...]`" + (f"; declared {kind}: {', '.join(declared)}" if declared else ""))
            problems.append(Problem(where, f"placeholder refers to {kind}.{name}, which is not declared", hint=hint))
    return problems


def _identifier(name: str) -> str:
    fixed = re.sub(r"\W", "_", name)
    return fixed if fixed and not fixed[0].isdigit() else f"_{fixed}"


PURE_CHECKS: tuple[Check, ...] = (check_entrypoint, check_distribution, check_data)


def check_spec(spec: JobSpec) -> list[Problem]:
    return [p for check in PURE_CHECKS for p in check(spec)]


def check_source_and_script(spec: JobSpec) -> list[Problem]:
    source = Path(spec.source_directory)
    if not source.is_dir():
        what = "does not exist" if not source.exists() else "is not a directory"
        return [Problem("source_directory", f"{spec.source_directory} {what}",
                        hint="point `source_directory` at the folder that holds your training code")]
    if spec.script is None:
        return []
    script = Path(os.path.normpath(source / spec.script))
    if os.path.isabs(spec.script) or not script.is_relative_to(source.resolve()):
        return [Problem("script", f"{spec.script!r} is outside source_directory {spec.source_directory}",
                        hint="give the script path relative to `source_directory`, and keep it inside")]
    if not script.is_file():
        return [Problem("script", f"{spec.script!r} not found in {spec.source_directory}",
                        hint=_nearby_scripts(source, spec.script))]
    return []


def _nearby_scripts(source: Path, script: str) -> str:
    candidates = sorted(str(p.relative_to(source)) for p in source.glob("*.py"))
    guess = did_you_mean(script, candidates)
    if guess:
        return guess
    if candidates:
        return "scripts found there: " + ", ".join(candidates[:5])
    return "the folder has no .py files; check `source_directory`"


def check_compute_target(spec: JobSpec, known_targets: Collection[str]) -> list[Problem]:
    if spec.compute_target == LOCAL_TARGET or spec.compute_target in known_targets:
        return []
    names = sorted({LOCAL_TARGET, *known_targets})
    hint = did_you_mean(spec.compute_target, names) or (
        f"known targets: {', '.join(names)}; attach one with `scriptrun compute ...` first")
    return [Problem("compute_target", f"unknown compute target {spec.compute_target!r}", hint=hint)]


def check_docker(spec: JobSpec) -> list[Problem]:
    problems = []
    uses_docker = spec.docker_runtime_config is not None and spec.docker_runtime_config.use_docker
    env = spec.environment
    image = env.docker.base_image if isinstance(env, EnvironmentSpec) and env.docker else None
    if (uses_docker or image) and shutil.which("docker") is None and shutil.which("podman") is None:
        path = "docker_runtime_config.use_docker" if uses_docker else "environment.docker.base_image"
        problems.append(Problem(path, "a container is requested but no container engine (docker/podman) is installed",
                                hint="remove the docker settings to run in a local Python environment"))
    return problems


CONDA_TOOLS = ("micromamba", "mamba", "conda")


def conda_tool() -> str | None:
    """The conda-compatible package manager on PATH, if any."""
    return next((path for tool in CONDA_TOOLS if (path := shutil.which(tool))), None)


def find_interpreter(version: str | None) -> str | None:
    """A Python interpreter on this machine matching ``version`` (``3.11`` or ``3.11.7``;
    None: the current one), or None when there is none."""
    if not version:
        return sys.executable
    wanted = version.strip().lstrip("=")
    if _version_matches(".".join(map(str, sys.version_info[:3])), wanted):
        return sys.executable
    major_minor = ".".join(wanted.split(".")[:2])
    candidate = shutil.which(f"python{major_minor}")
    if candidate is None:
        return None
    try:
        found = subprocess.run([candidate, "-c", "import platform; print(platform.python_version())"],
                               capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return candidate if _version_matches(found, wanted) else None


def _version_matches(actual: str, wanted: str) -> bool:
    wanted = wanted.rstrip(".*")
    return actual == wanted or actual.startswith(wanted + ".")


def needs_build(env: object) -> bool:
    """True when ``env`` is built from package lists (not user-managed, has packages)."""
    if not isinstance(env, EnvironmentSpec) or env.python.user_managed_dependencies:
        return False
    conda = env.python.conda_dependencies
    return conda is not None and conda.has_packages()


def check_environment_capabilities(spec: JobSpec) -> list[Problem]:
    """What building the job's environment needs from this machine: a conda tool for conda
    packages, and an interpreter of the pinned Python version."""
    env = spec.environment
    if not needs_build(env):
        return []
    assert isinstance(env, EnvironmentSpec) and env.python.conda_dependencies is not None
    conda = env.python.conda_dependencies
    problems = []
    if conda.conda_packages and conda_tool() is None:
        mapped, missing = pip_requirements(list(conda.conda_packages))
        if missing:
            problems.append(Problem("environment.python.conda_dependencies.conda_packages",
                                    f"conda packages ({', '.join(missing)}) need conda or micromamba, neither is "
                                    "on PATH, and they have no pip equivalent",
                                    hint="install micromamba, or replace them with pip packages "
                                         "(CondaDependencies.create(pip_packages=[...]))"))
        else:
            warnings.warn(f"no conda on PATH: conda packages {', '.join(conda.conda_packages)} will be installed "
                          f"with pip as {', '.join(mapped) or 'nothing'}", UserWarning, stacklevel=2)
    if conda.python_version and not (conda.conda_packages and conda_tool()) \
            and find_interpreter(conda.python_version) is None:
        problems.append(Problem("environment.python.conda_dependencies.python_version",
                                f"Python {conda.python_version} is not installed on this machine "
                                f"(this interpreter is {'.'.join(map(str, sys.version_info[:3]))})",
                                hint="remove the python pin to use the current Python, or pin a version "
                                     "whose `pythonX.Y` is on PATH"))
    return problems


def has_nvidia_gpu() -> bool:
    return Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi") is not None


def default_communication_backend(spec: JobSpec, *, from_yaml: bool) -> tuple[JobSpec, str | None]:
    """A PyTorch job that names no backend gets v1's default (NCCL) where it can work, i.e. on a
    machine with NVIDIA GPUs, else Gloo; returns the spec with it set, and the notice to give
    when Gloo was chosen (in the syntax of where the job was written: YAML key or Python keyword)."""
    dist = spec.distributed_job_config
    if dist is None or dist.type != "pytorch" or dist.communication_backend is not None:
        return spec, None
    backend = "nccl" if has_nvidia_gpu() else "gloo"
    spec = spec.model_copy(update={"distributed_job_config": dist.model_copy(
        update={"communication_backend": backend})})
    if backend == "nccl":
        return spec, None
    how = ("set `distributed_job_config.communication_backend: nccl` in the YAML"
           if from_yaml else "pass PyTorchConfiguration(communication_backend='Nccl')")
    return spec, (f"no PyTorch communication backend given and this machine has no NVIDIA GPU: using gloo "
                  f"(CPUs); to require GPUs, {how}")


def check_for_submit(spec: JobSpec, *, known_targets: Collection[str] = ()) -> list[Problem]:
    """Every check of the spec that needs no compute backend (their own checks are the
    backends' ``check``, run by ``prepare_job``)."""
    return [
        *check_spec(spec),
        *check_source_and_script(spec),
        *check_compute_target(spec, known_targets),
        *check_docker(spec),
        *check_environment_capabilities(spec),
    ]


def raise_problems(problems: list[Problem], *, file: str | None = None,
                   lines: Mapping[str, int] | None = None) -> None:
    """Raise one :class:`ConfigError` for ``problems`` (if any), pointing them at ``file``
    and the line of their path (``lines`` maps dotted paths to lines) when known."""
    if not problems:
        return
    if file:
        in_yaml = file.endswith((".yml", ".yaml"))
        problems = [p if p.file else Problem(p.path, p.message, yaml_syntax(p.hint) if in_yaml else p.hint, file,
                                             _line(lines, p.path), p.code)
                    for p in problems]
    raise ConfigError(problems)


# Hints are written with Python's keywords; a job written as YAML gets them as YAML keys.
_SECTION_CALL = re.compile(r"(?:Py[Tt]orch|Mpi|Tensorflow|ParallelTask)Configuration\((\w+)=(?:'([^']*)'|([^,)\s'\"]+))\)")
_KEYWORD = re.compile(r"`(\w+)=([^`]+)`")


def yaml_syntax(hint: str | None) -> str | None:
    """``hint`` with Python call syntax in YAML terms: ``PyTorchConfiguration(communication_backend=
    'Gloo')`` → `` `distributed_job_config.communication_backend: Gloo` ``, `` `script='train.py'` ``
    → `` `script: train.py` ``."""
    if not hint:
        return hint
    hint = _SECTION_CALL.sub(lambda m: f"`distributed_job_config.{m.group(1)}: {m.group(2) or m.group(3)}`", hint)
    return _KEYWORD.sub(lambda m: f"`{m.group(1)}: {m.group(2).replace(chr(39), '').replace(chr(34), '')}`", hint)


def _line(lines: Mapping[str, int] | None, path: str) -> int | None:
    while lines:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = path.rpartition(".")[0]
    return None
