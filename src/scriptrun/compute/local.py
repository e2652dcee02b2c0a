"""The local compute backend: a working copy, the process contract, and a shim per run.

A distributed job runs as ``node_count`` "virtual nodes" on this machine, each process with
the rank environment of ``launch.py`` — so distributed launch can be debugged here before
paying for nodes.

What the user's process sees (on every backend): its working directory is a copy of the
snapshot with ``./outputs`` and ``./logs`` created; ``python`` is the environment's
interpreter; ``$VAR`` tokens in its argv are expanded from its environment; and the
variables below are set. The shim (``compute/shim.py``) then supervises it; the Ray
backend runs the same processes (``build_processes``) under the same shim on its nodes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scriptrun.compute.backend import SECRETS_VAR, Launch
from scriptrun.compute.launch import LOOPBACK, ProcessPlan, free_ports, plan_processes, ports_needed
from scriptrun.errors import Problem
from scriptrun.rundir import (
    EXIT_FILE,
    LAUNCH_FILE,
    LOGS_DIR,
    SHIM_FILE,
    SHIM_LOCK,
    SHIM_LOG,
    Outcome,
    read_json,
    write_json_atomic,
)
from scriptrun.spec import EnvironmentSpec, JobSpec
from scriptrun.spec.checks import has_nvidia_gpu
from scriptrun.workspace import Workspace
from scriptrun.workspace.snapshot import materialize, release_working_copy

SHIM = Path(__file__).resolve().parent / "shim.py"
GRACE_SECONDS = 10.0
POLL_SECONDS = 0.05
_STALE_PREFIXES = ("SCRIPTRUN_", "AZUREML_", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_")
_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def contract_env(*, run_id: str, experiment: str, workspace_root: str, run_dir: str, tracking_uri: str,
                 mlflow_run_id: str, mlflow_experiment_id: str | None = None) -> dict[str, str]:
    """The variables that identify the run to the user's script (scriptrun, MLflow, v1 names)."""
    env = {
        "SCRIPTRUN_RUN_ID": run_id,
        "SCRIPTRUN_EXPERIMENT": experiment,
        "SCRIPTRUN_WORKSPACE": workspace_root,
        "SCRIPTRUN_RUN_DIR": run_dir,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_RUN_ID": mlflow_run_id,
        "AZUREML_RUN_ID": run_id,
        "AZUREML_ARM_PROJECT_NAME": experiment,
        "AZUREML_OUTPUT_DIRECTORY": "outputs",
        "PYTHONUNBUFFERED": "1",
    }
    if mlflow_experiment_id:
        env["MLFLOW_EXPERIMENT_ID"] = mlflow_experiment_id
    return env


def job_env(spec: JobSpec, base: dict[str, str], contract: dict[str, str]) -> dict[str, str]:
    """The process environment: the submitter's, then the contract, then the environment's
    variables, then the job's (later ones win)."""
    env = {k: v for k, v in base.items() if not k.startswith(_STALE_PREFIXES)}
    env.update(contract)
    if isinstance(spec.environment, EnvironmentSpec):
        env.update(spec.environment.environment_variables)
    env.update(spec.environment_variables)
    return env


def interpreter(spec: JobSpec, client_python: str | None) -> str:
    env = spec.environment
    if isinstance(env, EnvironmentSpec) and env.python.interpreter_path:
        return env.python.interpreter_path
    return client_python or sys.executable


def expand_vars(argv: list[str], env: dict[str, str]) -> list[str]:
    """Expand ``$NAME``/``${NAME}`` from ``env``; unknown names are left as they are."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return [_VAR.sub(sub, arg) for arg in argv]


def build_argv(spec: JobSpec, python: str, env: dict[str, str]) -> list[str]:
    argv = spec.entry_argv()
    if argv and argv[0] == "python":
        argv[0] = python
    return argv if isinstance(spec.command, str) else expand_vars(argv, env)


def make_workdir(workspace: Workspace, snapshot_id: str, workdir: Path) -> None:
    """A fresh working copy of the snapshot (zero-copy unless the workspace says
    ``working_copy: copy``), with the ``outputs/`` and ``logs/`` folders."""
    shutil.rmtree(workdir, ignore_errors=True)
    materialize(workspace, snapshot_id, workdir, share=workspace.settings.working_copy == "link")
    (workdir / "outputs").mkdir(exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)


def remove_workdir(workspace: Workspace, snapshot_id: str, workdir: Path) -> list[str]:
    """Delete a run's working copy after checking that the run wrote none of the store's
    objects in place (those are evicted); returns the snapshot paths the run wrote in place."""
    written = release_working_copy(workspace, snapshot_id, workdir) if snapshot_id else []
    shutil.rmtree(workdir, ignore_errors=True)
    return written


def build_processes(spec: JobSpec, plans: list[ProcessPlan], env: dict[str, str], python: str,
                    cwd: str) -> list[dict[str, Any]]:
    """The shim's description of each planned process: argv, environment and retry policy.
    The job environment's ``bin`` folder comes first on ``PATH``, so ``python``, ``pip``,
    ``torchrun`` and console scripts resolve to it in every process (list or string command)."""
    bin_dir = os.path.dirname(python)
    processes = []
    for plan in plans:
        process_env = {k: v for k, v in {**env, **plan.env}.items() if k != SECRETS_VAR}  # the shim adds them
        process_env["PATH"] = os.pathsep.join(p for p in (bin_dir, process_env.get("PATH", os.defpath)) if p)
        processes.append({"name": plan.name, "argv": [*plan.wrapper, *build_argv(spec, python, process_env)],
                          "env": process_env, "cwd": cwd, "max_retries": plan.max_retries,
                          "terminal_exit_codes": list(plan.terminal_exit_codes)})
    return processes


def plan_launch(run_dir: Path, workdir: Path, spec: JobSpec, env: dict[str, str], python: str, *,
                grace_seconds: float = GRACE_SECONDS) -> dict[str, Any]:
    """The shim's ``launch.json``: the job's processes on ``node_count`` virtual nodes of this
    machine, each with the rank environment a cluster would give it."""
    hosts = [LOOPBACK] * spec.node_count
    logs = str(run_dir / LOGS_DIR)
    ports = free_ports(ports_needed(spec), LOOPBACK) if spec.distributed_job_config is not None else []
    plans = plan_processes(spec, hosts, ports, python=python, logs_dir=logs)
    return {"processes": build_processes(spec, plans, env, python, str(workdir)),
            "timeout_seconds": spec.max_run_duration_seconds, "grace_seconds": grace_seconds, "logs_dir": logs}


def write_launch(run_dir: Path, workdir: Path, spec: JobSpec, env: dict[str, str], python: str, *,
                 grace_seconds: float = GRACE_SECONDS) -> dict[str, Any]:
    """Write ``launch.json`` for the shim (:func:`plan_launch`)."""
    launch = plan_launch(run_dir, workdir, spec, env, python, grace_seconds=grace_seconds)
    write_json_atomic(run_dir / LAUNCH_FILE, launch)
    return launch


def start_shim(run_dir: Path, secrets: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start the shim for ``run_dir`` in its own session, so it outlives the agent. The run's
    ``secrets`` travel in the shim's own environment, never in a file."""
    env = {k: v for k, v in os.environ.items() if k != SECRETS_VAR}
    if secrets:
        env[SECRETS_VAR] = json.dumps(dict(secrets))
    with open(run_dir / SHIM_LOG, "ab") as log:
        return subprocess.Popen([sys.executable, "-S", str(SHIM), str(run_dir)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True, close_fds=True, env=env)


def shim_alive(run_dir: Path) -> bool:
    """True while a shim holds the run's ``shim.lock``."""
    lock = run_dir / SHIM_LOCK
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def kill_process_groups(run_dir: Path) -> list[int]:
    """SIGKILL every process group the run's shim recorded (its supervisor is dead)."""
    info = read_json(run_dir / SHIM_FILE) or {}
    killed = []
    for pgid in info.get("pids", []):
        try:
            os.killpg(int(pgid), signal.SIGKILL)
            killed.append(int(pgid))
        except (ProcessLookupError, PermissionError):
            pass
    return killed


class LocalBackend:
    """Runs each job as ``node_count`` virtual nodes of this machine, under a shim."""

    def __init__(self) -> None:
        self._shims: dict[Path, subprocess.Popen[bytes]] = {}

    def check(self, spec: JobSpec, tracking_uri: str | None = None) -> list[Problem]:
        dist = spec.distributed_job_config
        if dist is not None and dist.type == "pytorch" and dist.communication_backend == "nccl" \
                and not has_nvidia_gpu():
            return [Problem("distributed_job_config.communication_backend",
                            "the NCCL backend needs NVIDIA GPUs, and this machine has none",
                            hint="use PyTorchConfiguration(communication_backend='Gloo') to train on CPUs",
                            code="SR-NCCL-NO-GPU")]
        if dist is not None and dist.type == "mpi" and shutil.which("mpirun") is None:
            return [Problem("distributed_job_config", "an MPI job needs `mpirun`, which is not on PATH",
                            hint="install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin); "
                                 "`bash scripts/setup.sh` does it as root", code="SR-MPI")]
        return []

    def base_env(self, client_env: Mapping[str, str]) -> dict[str, str]:
        return dict(client_env)

    def start(self, launch: Launch) -> None:
        write_launch(launch.run_dir, launch.workdir, launch.spec, launch.env, launch.python)
        self._shims[launch.run_dir] = start_shim(launch.run_dir, launch.secrets)

    def launched(self, run_dir: Path) -> bool:
        return (run_dir / LAUNCH_FILE).exists()

    def adopt(self, run_dir: Path) -> bool:
        if self.launched(run_dir) and not (run_dir / SHIM_LOCK).exists():
            self._shims[run_dir] = start_shim(run_dir)  # the agent died between launch.json and the shim
        return self.launched(run_dir)

    def running(self, run_dir: Path) -> bool:
        return (run_dir / LAUNCH_FILE).exists()

    def wait(self, run_dir: Path, timeout: float) -> Outcome | None:
        proc = self._shims.get(run_dir)
        if proc is not None:  # our own child: wait on it (and reap it)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
            del self._shims[run_dir]
        else:  # started by an earlier agent: the shim's lock tells
            deadline = time.monotonic() + timeout
            while self._shim_pending(run_dir):
                if time.monotonic() > deadline:
                    return None
                time.sleep(POLL_SECONDS)
        outcome = Outcome.read(run_dir)
        if outcome is None:  # the supervisor died without recording one: leave nothing behind
            killed = kill_process_groups(run_dir)
            outcome = Outcome("lost", message="the run's supervisor (shim) died without recording how the run "
                                              f"ended; {len(killed)} process group(s) of the run were stopped. "
                                              f"See {run_dir / SHIM_LOG}")
        return outcome

    def _shim_pending(self, run_dir: Path) -> bool:
        if shim_alive(run_dir):
            return True
        # a shim that has not taken its lock yet (just started by launched()) gets a moment
        return not (run_dir / EXIT_FILE).exists() and not (run_dir / SHIM_FILE).exists() \
            and time.time() - (run_dir / LAUNCH_FILE).stat().st_mtime < 10

    def cancel(self, run_dir: Path) -> None:
        shim = read_json(run_dir / SHIM_FILE)
        if shim and shim_alive(run_dir):
            try:
                os.kill(int(shim["pid"]), signal.SIGTERM)
            except ProcessLookupError:
                pass
