"""The driver of a scriptrun job on a Ray cluster (the Ray job's entrypoint).

``python -m scriptrun.compute.ray_driver <job file>`` runs inside the Ray job, in the
snapshot (Ray's ``working_dir``). It plays the shim's part on the cluster: it reserves one
placement-group bundle per node (``STRICT_SPREAD`` for several nodes), asks each node for
its address and free ports, computes every process's rank environment with the same
``launch.plan_processes`` as the local backend, runs each process as a Ray task pinned to
its node, stops the others when one fails, enforces the deadline and cancellation (Ray's
``stop_job`` sends SIGTERM), and reports the outcome — as ``exit.json`` in the run folder
when the cluster shares the workspace's filesystem (a local cluster does), and always as a
``SCRIPTRUN_RESULT {...}`` line in its own log. A single-node job needs no placement
group: the driver, placed on a node with a free CPU, supervises its processes itself with
the same shim as the local target.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from scriptrun.agent.shim import Shim, read_tail
from scriptrun.compute.launch import plan_processes, ports_needed
from scriptrun.compute.local import build_argv, write_launch
from scriptrun.rundir import METRICS_FILE
from scriptrun.spec import JobSpec, PyTorchSpec

RESULT_MARKER = "SCRIPTRUN_RESULT "
SCRATCH = "scriptrun_run"
PLACEMENT_TIMEOUT_SECONDS = 120.0
GRACE_SECONDS = 2.0  # Ray's stop_job escalates to SIGKILL after 3 s
TAIL_BYTES = 8192


@ray.remote(num_cpus=0)
def probe(port_count: int) -> dict[str, Any]:
    """Where a bundle landed: node id, address and free ports there."""
    sockets = [socket.socket() for _ in range(port_count)]
    try:
        for sock in sockets:
            sock.bind(("", 0))
        ports = [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    return {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
            "ports": ports}


@ray.remote(max_retries=0)
def run_process(name: str, argv: list[str], env: dict[str, str], cwd: str, log_path: str, max_retries: int,
                terminal_exit_codes: list[int]) -> dict[str, Any]:
    """Run one of the job's processes on this node; retry it as its plan allows."""
    isolated = not os.path.isdir(cwd)  # on another machine: use this node's copy of the working_dir
    if isolated:
        cwd = os.getcwd()
        scratch = os.path.join(cwd, SCRATCH, name)
        for folder in ("outputs", "logs", scratch):
            os.makedirs(folder, exist_ok=True)
        env = {**env, "SCRIPTRUN_RUN_DIR": scratch}
        log_path = os.path.join(scratch, os.path.basename(log_path))
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env, "SCRIPTRUN_ATTEMPT": str(attempt)},
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            try:
                code = proc.wait()
            except BaseException:  # cancelled by the driver (KeyboardInterrupt) or the worker is stopping
                _stop_group(proc)
                raise
        if code != 0 and attempt < max_retries and code not in terminal_exit_codes:
            attempt += 1
            with open(log_path, "ab") as log:
                log.write(f"\n--- exit code {code}; retry {attempt} of {max_retries} ---\n".encode())
            continue
        result = {"name": name, "exit_code": code, "attempts": attempt, "ended": time.time(),
                  "tail": read_tail(log_path).decode("utf-8", errors="replace")}
        if isolated:
            result["files"] = _collect(cwd, scratch, name, log_path)
        return result


def _collect(cwd: str, scratch: str, name: str, log_path: str) -> dict[str, bytes]:
    """This process's metrics, log and (first process of a node) outputs, to send back."""
    files = {f"logs/{name}.txt": Path(log_path).read_bytes()}
    metrics = Path(scratch) / METRICS_FILE
    if metrics.exists():
        files[METRICS_FILE] = metrics.read_bytes()
    for path in Path(cwd, "outputs").rglob("*"):
        if path.is_file():
            files[str(path.relative_to(cwd))] = path.read_bytes()
    return files


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, GRACE_SECONDS / 2), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _Stop(Exception):
    pass


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stop()


def drive_one_node(job: dict[str, Any], spec: JobSpec, run_dir: Path) -> dict[str, Any]:
    """A single-node job: this driver (placed on a node with a free CPU) supervises the
    processes itself with the shim, exactly as on the local target."""
    write_launch(run_dir, Path(job["workdir"]), spec, {**os.environ, **job["env"]}, job["python"],
                 grace_seconds=GRACE_SECONDS)
    (run_dir / "exit.json").unlink(missing_ok=True)
    Shim(str(run_dir)).run()
    return json.loads((run_dir / "exit.json").read_text())


def drive(job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Run the job; returns its outcome and whether the run folder is shared with the agent.

    When the cluster does not see the workspace's folder, results are gathered in a scratch
    run folder here and published to the tracking server (``publish``) for the agent."""
    spec = JobSpec.model_validate(job["spec"])
    run_dir = Path(job["run_dir"])
    shared = job.get("shared_filesystem")
    if shared is None:
        shared = run_dir.is_dir() and os.access(run_dir, os.W_OK)
    if not shared:  # a scratch run folder of our own (Ray may clean its working_dir copy early)
        run_dir = Path(tempfile.mkdtemp(prefix="scriptrun-run-"))
        shutil.copytree(os.getcwd(), run_dir / "wd")
        os.chdir(run_dir)
        for folder in ("wd/outputs", "wd/logs", "logs"):
            (run_dir / folder).mkdir(parents=True, exist_ok=True)
        job = {**job, "workdir": str(run_dir / "wd"), "env": {**job["env"], "SCRIPTRUN_RUN_DIR": str(run_dir)}}
    try:
        if spec.node_count == 1:
            result = drive_one_node(job, spec, run_dir)
        else:
            result = drive_nodes(job, spec, run_dir)
        if not shared:
            publish(job, run_dir)
    finally:
        if not shared:
            os.chdir("/")
            shutil.rmtree(run_dir, ignore_errors=True)
    return result, shared


def drive_nodes(job: dict[str, Any], spec: JobSpec, run_dir: Path) -> dict[str, Any]:
    """A multi-node job: one placement-group bundle per node, one Ray task per process."""
    ray.init(log_to_driver=False)
    logs = run_dir / "logs"
    started = time.time()
    nodes = spec.node_count
    pg = placement_group([{"CPU": 1}] * nodes, strategy="STRICT_SPREAD")
    refs: list[Any] = []
    try:
        ready, _ = ray.wait([pg.ready()], timeout=PLACEMENT_TIMEOUT_SECONDS)
        if not ready:
            message = (f"the cluster could not place {nodes} nodes with 1 free CPU each on distinct nodes "
                       f"within {PLACEMENT_TIMEOUT_SECONDS:.0f} s")
            return _result(started, 1, "failed", "placement", message)
        k = ports_needed(spec)
        where = ray.get([probe.options(scheduling_strategy=_bundle(pg, n)).remote(k) for n in range(nodes)])
        hosts = [w["ip"] for w in where]
        ports = [where[i % nodes]["ports"][i] if k > 1 else where[0]["ports"][0] for i in range(k)]
        plans = plan_processes(spec, hosts, ports, python=job["python"], logs_dir=str(logs))
        per_node = max(sum(1 for p in plans if p.node_rank == n) for n in range(nodes))
        print(f"scriptrun: {len(plans)} process(es) on {nodes} node(s): "
              + ", ".join(f"{p.name}@{where[p.node_rank]['node_id'][:8]}" for p in plans), flush=True)
        for plan in plans:
            env = {**job["env"], **plan.env, "SCRIPTRUN_NODE_ID": where[plan.node_rank]["node_id"]}
            if isinstance(spec.distributed_job_config, PyTorchSpec) and hosts[0] == "127.0.0.1":
                env.setdefault("GLOO_SOCKET_IFNAME", "lo")
            argv = [*plan.wrapper, *build_argv(spec, job["python"], env)]
            refs.append(run_process.options(scheduling_strategy=_bundle(pg, plan.node_rank),
                                            num_cpus=1 / per_node).remote(
                plan.name, argv, env, job["workdir"], str(logs / f"{plan.name}.txt"),
                plan.max_retries, list(plan.terminal_exit_codes)))
        return _supervise(refs, plans, started, spec.max_run_duration_seconds, run_dir, Path(job["workdir"]))
    except _Stop:
        _cancel(refs)
        return _result(started, 143, "canceled", None, "")
    finally:
        remove_placement_group(pg)


def publish(job: dict[str, Any], run_dir: Path) -> None:
    """Send what a run produced on a cluster that does not share the workspace to its
    tracking store: ``outputs/``, the process logs, and the metrics file (the agent ingests it)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(job["env"]["MLFLOW_TRACKING_URI"])
    run_id = job["env"]["MLFLOW_RUN_ID"]
    for local, artifact_path in ((Path(job["workdir"]) / "outputs", "outputs"), (run_dir / "logs", "user_logs")):
        if local.is_dir() and any(local.iterdir()):
            client.log_artifacts(run_id, str(local), artifact_path)
    metrics = run_dir / METRICS_FILE
    if metrics.exists():
        client.log_artifact(run_id, str(metrics), "scriptrun")


def _supervise(refs: list[Any], plans: list[Any], started: float, timeout: int, run_dir: Path,
               workdir: Path) -> dict[str, Any]:
    names = {ref: plan.name for ref, plan in zip(refs, plans, strict=True)}
    pending = list(refs)
    deadline = started + timeout
    while pending:
        done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
        for ref in done:
            try:
                outcome = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a task that died (its node was lost…)
                _cancel(pending)
                return _result(started, 1, "failed", names[ref], f"{type(exc).__name__}: {exc}")
            _gather(outcome.get("files") or {}, run_dir, workdir)
            if outcome["exit_code"] != 0:
                _cancel(pending)
                return _result(started, outcome["exit_code"], "failed", outcome["name"], outcome["tail"])
        if time.time() > deadline:
            _cancel(pending)
            return _result(started, 1, "timeout", None, "")
    return _result(started, 0, "completed", None, "")


def _gather(files: dict[str, bytes], run_dir: Path, workdir: Path) -> None:
    """Files a process sent back from a node that does not share our folders."""
    for rel, data in files.items():
        if rel == METRICS_FILE:
            with open(run_dir / METRICS_FILE, "ab") as fh:
                fh.write(data)
            continue
        target = (run_dir if rel.startswith("logs/") else workdir) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _cancel(refs: list[Any]) -> None:
    for ref in refs:
        ray.cancel(ref)
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=GRACE_SECONDS)


def _bundle(pg: Any, index: int) -> PlacementGroupSchedulingStrategy:
    return PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=index)


def _result(started: float, code: int, reason: str, failed: str | None, tail: str) -> dict[str, Any]:
    return {"exit_code": code, "reason": reason, "failed_process": failed, "started": started,
            "ended": time.time(), "stderr_tail": tail}


def main(job_file: str) -> int:
    job = json.loads(Path(job_file).read_text())
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result, shared = drive(job)
    except _Stop:
        result, shared = _result(time.time(), 143, "canceled", None, ""), False
    run_dir = Path(job["run_dir"])
    if shared and not (run_dir / "exit.json").exists():
        tmp = run_dir / "exit.json.tmp"
        tmp.write_text(json.dumps(result))
        os.replace(tmp, run_dir / "exit.json")
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0 if result["reason"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
