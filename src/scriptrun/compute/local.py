"""The local compute backend: a working copy, the process contract, and a shim per run.

A distributed job runs as ``node_count`` "virtual nodes" on this machine, each process with
the rank environment of ``launch.py`` — so distributed launch can be debugged here before
paying for nodes.

What the user's process sees (on every backend): its working directory is a copy of the
snapshot with ``./outputs`` and ``./logs`` created; ``python`` is the environment's
interpreter; ``$VAR`` tokens in its argv are expanded from its environment; and the
variables below are set. The shim (``agent/shim.py``) then supervises it.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from scriptrun.compute.launch import plan_processes, ports_needed
from scriptrun.spec import EnvironmentSpec, JobSpec, PyTorchSpec
from scriptrun.workspace import Workspace
from scriptrun.workspace.snapshot import materialize

SHIM = Path(__file__).resolve().parent.parent / "agent" / "shim.py"
GRACE_SECONDS = 10.0
LOOPBACK = "127.0.0.1"
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
    """A fresh working copy of the snapshot, with the ``outputs/`` and ``logs/`` folders."""
    shutil.rmtree(workdir, ignore_errors=True)
    materialize(workspace, snapshot_id, workdir)
    (workdir / "outputs").mkdir(exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that are free on ``host`` right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def write_launch(run_dir: Path, workdir: Path, spec: JobSpec, env: dict[str, str], python: str, *,
                 grace_seconds: float = GRACE_SECONDS) -> dict[str, Any]:
    """Write ``launch.json`` for the shim: the job's processes on ``node_count`` virtual nodes
    of this machine, each with the rank environment a cluster would give it."""
    hosts = [LOOPBACK] * spec.node_count
    plans = plan_processes(spec, hosts, free_ports(ports_needed(spec)), python=python,
                           logs_dir=str(run_dir / "logs"))
    processes = []
    for plan in plans:
        process_env = {**env, **plan.env}
        if isinstance(spec.distributed_job_config, PyTorchSpec):
            process_env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # virtual nodes talk over loopback
        processes.append({"name": plan.name, "argv": [*plan.wrapper, *build_argv(spec, python, process_env)],
                          "env": process_env, "cwd": str(workdir), "max_retries": plan.max_retries,
                          "terminal_exit_codes": list(plan.terminal_exit_codes)})
    launch = {"processes": processes, "timeout_seconds": spec.max_run_duration_seconds,
              "grace_seconds": grace_seconds}
    (run_dir / "launch.json").write_text(json.dumps(launch))
    return launch


def start_shim(run_dir: Path) -> subprocess.Popen[bytes]:
    """Start the shim for ``run_dir`` in its own session, so it outlives the agent."""
    with open(run_dir / "shim.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-S", str(SHIM), str(run_dir)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True, close_fds=True)
