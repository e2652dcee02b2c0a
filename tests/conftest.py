"""Shared fixtures: real workspaces with a real agent, MLflow store and subprocesses.

Every workspace a test creates is torn down by stopping its agent and waiting for every
process it started, so the suite leaves no agent or run process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scriptrun.agent.client import send_request
from scriptrun.config import ScriptRunConfig
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run
from scriptrun.workspace import Workspace


def wait_for(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05) -> object:
    """Poll ``condition`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {condition}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_agent(ws: Workspace) -> None:
    """Stop the workspace's agent and every run process it supervises."""
    pid = None
    try:
        info = send_request(ws.agent_socket, {"op": "ping"}, timeout=10)
        pid = info["pid"]
        for run_id in info["active_runs"] + info["queued_runs"]:
            send_request(ws.agent_socket, {"op": "cancel", "run_id": run_id}, timeout=10)
        send_request(ws.agent_socket, {"op": "shutdown"}, timeout=10)
    except OSError:
        pass
    for shim in ws.runs_dir.glob("*/shim.json") if ws.runs_dir.is_dir() else []:
        import json

        info = json.loads(shim.read_text())
        for p in [info["pid"], *info.get("pids", [])]:
            try:
                os.killpg(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    if pid is not None:
        try:
            wait_for(lambda: not pid_alive(pid), timeout=15)
        except AssertionError:
            os.kill(pid, signal.SIGKILL)


def make_workspace(path: Path, **settings: object) -> Workspace:
    ws = Workspace.create(path)
    if settings:
        import yaml

        (ws.dir / "config.yaml").write_text(yaml.safe_dump(settings))
        ws = Workspace.get(path)
    return ws


@pytest.fixture(scope="session")
def shared_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace (and agent) for the tests that don't need their own."""
    ws = make_workspace(tmp_path_factory.mktemp("shared"), max_concurrent_runs=4)
    yield ws
    stop_agent(ws)


@pytest.fixture
def own_ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace with its own agent, for tests that kill or restart agents."""
    ws = make_workspace(tmp_path / "ws")
    yield ws
    stop_agent(ws)


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """Write scripts into a fresh source directory: ``project(train='...python...')``."""
    folder = tmp_path / "src"
    folder.mkdir()

    def write(**scripts: str) -> Path:
        for name, body in scripts.items():
            (folder / f"{name}.py").write_text(textwrap.dedent(body))
        return folder

    return write


def cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real ``scriptrun`` command in a subprocess (output width decided by the CLI itself)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TYPER_USE_RICH")}
    return subprocess.run([sys.executable, "-m", "scriptrun", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``proc``, after checking it exited 0 (else its output is the failure message)."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def submit_script(ws: Workspace, folder: Path, script: str = "train.py", **kwargs: object) -> Run:
    """Submit ``ScriptRunConfig(folder, script, **kwargs)`` to experiment ``tests`` of ``ws``."""
    return Experiment(ws, "tests").submit(ScriptRunConfig(str(folder), script, **kwargs))


DASHBOARD_PORT = 8297
RAY_PACKAGE_LIMIT = 32 * 2**20  # the test cluster's largest working_dir package


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A simulated two-node Ray cluster on loopback (a head with no CPUs, two 1-CPU nodes), per
    test module: an idle cluster costs the other tests CPU and memory on a small machine."""
    pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep every socket on loopback
    # a 32 MiB package limit (default 512 MiB), so a test can hit it with a small snapshot
    os.environ.setdefault("RAY_max_grpc_message_size", str(RAY_PACKAGE_LIMIT))
    from ray.cluster_utils import Cluster
    from ray.job_submission import JobSubmissionClient

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "include_dashboard": True, "dashboard_port": DASHBOARD_PORT})
    try:
        cluster.add_node(num_cpus=1)
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        address = f"http://127.0.0.1:{DASHBOARD_PORT}"
        wait_for(lambda: _reachable(JobSubmissionClient, address), timeout=60, interval=0.5)
        yield address
    finally:
        cluster.shutdown()


def _reachable(client_cls, address: str) -> bool:
    try:
        client_cls(address).list_jobs()
        return True
    except Exception:  # noqa: BLE001
        return False
