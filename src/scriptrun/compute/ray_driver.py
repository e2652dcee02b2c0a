"""The driver of a scriptrun job on a Ray cluster (the Ray job's entrypoint).

``python -m scriptrun.compute.ray_driver <job file>`` runs inside the Ray job, in the
snapshot (Ray's ``working_dir``). It has no supervisor code of its own: every node's
processes are supervised by the same shim as on the local target (``compute/shim.py``:
logs, retries, deadline, SIGTERM-then-SIGKILL, nothing of a finished process left behind).

- A single-node job needs no placement group: the driver, placed on a node with a free
  CPU, runs the shim over the job's processes itself (Ray is not even imported). For a
  single process the agent has already planned it (``job["launch"]``), so the driver
  imports nothing but the shim (no spec, no pydantic): its start-up is a bare interpreter's.
- A multi-node job reserves one placement-group bundle per node (``STRICT_SPREAD``), asks
  each node for its address and free ports, plans every process's rank environment with
  the same ``launch.plan_processes`` as the local backend, and runs one shim per node as a
  Ray task pinned to its bundle. The first node whose shim reports a failure has the others
  canceled (Ray's task cancellation reaches the shim as SIGINT: it stops its processes).

The outcome goes to ``exit.json`` in the run folder when the cluster shares the workspace's
filesystem (a local cluster does), and always as a ``SCRIPTRUN_RESULT {...}`` line in the
driver's log. A cluster without the workspace's folder gets a scratch run folder here, and
what the run produced is published to the tracking store for the agent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Only the stdlib, the shim and the run-folder layout at import: a single-node job's driver
# needs nothing else, and every import here delays the user's script.
from scriptrun.compute.shim import SECRETS_VAR, Shim
from scriptrun.rundir import (
    EXIT_FILE,
    LAUNCH_FILE,
    LOGS_DIR,
    METRICS_FILE,
    WORKDIR,
    Outcome,
    write_json_atomic,
)

JOB_FILE = ".scriptrun-job.json"  # the job, in the working_dir, when it is too big for JOB_VAR
JOB_VAR = "SCRIPTRUN_JOB"  # the job as JSON, in the driver's environment
RESULT_MARKER = "SCRIPTRUN_RESULT "
PUBLISHED_METRICS = "scriptrun/metrics.jsonl"
PUBLISHED_LOGS = "user_logs"
SCRATCH = "scriptrun_run"
NODES_DIR = "nodes"
PLACEMENT_TIMEOUT_SECONDS = 120.0
GRACE_SECONDS = 2.0  # Ray's stop_job escalates to SIGKILL after 3 s


class _Stop(Exception):
    pass


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stop()


def supervise_node(node_dir: str, launch: dict[str, Any], workdir: str) -> dict[str, Any]:
    """Run one node's processes under the shim; returns its outcome and, on a node that does
    not share the run folder, the files to send back (logs, metrics, outputs)."""
    isolated = not os.path.isdir(workdir)
    if isolated:  # another machine: use this node's copy of the working_dir and a scratch folder
        cwd = os.getcwd()
        node_dir = os.path.join(cwd, SCRATCH, os.path.basename(node_dir))
        os.makedirs(os.path.join(cwd, "outputs"), exist_ok=True)
        launch = {**launch, "logs_dir": os.path.join(node_dir, LOGS_DIR),
                  "processes": [{**p, "cwd": cwd, "env": {**p["env"], "SCRIPTRUN_RUN_DIR": node_dir}}
                                for p in launch["processes"]]}
    os.makedirs(node_dir, exist_ok=True)
    write_json_atomic(Path(node_dir) / LAUNCH_FILE, launch)
    Shim(node_dir).run()
    result = {"outcome": json.loads(Path(node_dir, EXIT_FILE).read_text())}
    if isolated:
        result["files"] = _collect(Path(os.getcwd()), Path(node_dir), Path(launch["logs_dir"]))
    return result


def _collect(cwd: Path, node_dir: Path, logs: Path) -> dict[str, bytes]:
    files = {f"{LOGS_DIR}/{p.name}": p.read_bytes() for p in logs.glob("*.txt")}
    metrics = node_dir / METRICS_FILE
    if metrics.exists():
        files[METRICS_FILE] = metrics.read_bytes()
    for path in (cwd / "outputs").rglob("*"):
        if path.is_file():
            files[str(path.relative_to(cwd))] = path.read_bytes()
    return files


def _driver_env() -> dict[str, str]:
    """This driver's environment for the job's processes, without the run's secrets or the
    job itself: Ray repeats the job's runtime env (and so ``SCRIPTRUN_SECRETS``) in
    ``RAY_JOB_CONFIG_JSON_ENV_VAR``, and launch.json is a file. The shim gives the processes
    their secrets."""
    env = {k: v for k, v in os.environ.items() if k != JOB_VAR}
    config = env.get("RAY_JOB_CONFIG_JSON_ENV_VAR")
    if config and (SECRETS_VAR in config or JOB_VAR in config):
        data = json.loads(config)
        env_vars = (data.get("runtime_env") or {}).get("env_vars", {})
        env_vars.pop(SECRETS_VAR, None)
        env_vars.pop(JOB_VAR, None)
        env["RAY_JOB_CONFIG_JSON_ENV_VAR"] = json.dumps(data)
    return env


def _on_this_node(launch: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """The agent's plan of a single-process job, with this node's environment under the job's
    (as ``write_launch`` would have made it here): the job's ``bin`` first on this node's ``PATH``."""
    node = {k: v for k, v in _driver_env().items() if k != SECRETS_VAR}
    path = os.pathsep.join(p for p in (os.path.dirname(job["python"]),
                                       job["env"].get("PATH", node.get("PATH", os.defpath))) if p)
    return {**launch, "processes": [{**p, "env": {**node, **p["env"], "PATH": path}} for p in launch["processes"]]}


def drive_one_node(job: dict[str, Any], run_dir: Path) -> Outcome:
    """A single-node job: this driver supervises the processes itself with the shim."""
    if job.get("launch"):
        write_json_atomic(run_dir / LAUNCH_FILE, _on_this_node(job["launch"], job))
    else:  # several processes: their ports are this node's to choose
        from scriptrun.compute.local import write_launch
        from scriptrun.spec import JobSpec

        write_launch(run_dir, Path(job["workdir"]), JobSpec.model_validate(job["spec"]),
                     {**_driver_env(), **job["env"]}, job["python"], grace_seconds=GRACE_SECONDS)
    (run_dir / EXIT_FILE).unlink(missing_ok=True)
    Shim(str(run_dir)).run()
    return Outcome.read(run_dir) or Outcome("lost", message="the shim recorded no outcome")


def drive_nodes(job: dict[str, Any], run_dir: Path) -> Outcome:
    """A multi-node job: one placement-group bundle and one shim (a Ray task) per node."""
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    from scriptrun.compute.launch import free_ports, plan_processes, ports_needed
    from scriptrun.compute.local import build_processes
    from scriptrun.spec import JobSpec

    spec = JobSpec.model_validate(job["spec"])

    ray.init(log_to_driver=False)
    started = time.time()
    nodes = spec.node_count
    pg = placement_group([{"CPU": 1}] * nodes, strategy="STRICT_SPREAD")

    def bundle(index: int) -> PlacementGroupSchedulingStrategy:
        return PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=index)

    @ray.remote(num_cpus=0)
    def probe(port_count: int) -> dict[str, Any]:
        return {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
                "ports": free_ports(port_count)}

    node_task = ray.remote(max_retries=0)(supervise_node)
    refs: list[Any] = []
    try:
        ready, _ = ray.wait([pg.ready()], timeout=PLACEMENT_TIMEOUT_SECONDS)
        if not ready:
            return Outcome("failed", exit_code=1, failed_process="placement", started=started, ended=time.time(),
                           stderr_tail=f"the cluster could not place {nodes} nodes with 1 free CPU each on "
                                       f"distinct nodes within {PLACEMENT_TIMEOUT_SECONDS:.0f} s")
        k = ports_needed(spec)
        where = ray.get([probe.options(scheduling_strategy=bundle(n)).remote(k) for n in range(nodes)])
        ports = [where[i % nodes]["ports"][i] if k > 1 else where[0]["ports"][0] for i in range(k)]
        logs = str(run_dir / LOGS_DIR)
        plans = plan_processes(spec, [w["ip"] for w in where], ports, python=job["python"], logs_dir=logs)
        print(f"scriptrun: {len(plans)} process(es) on {nodes} node(s): "
              + ", ".join(f"{p.name}@{where[p.node_rank]['node_id'][:8]}" for p in plans), flush=True)
        for n in range(nodes):
            mine = [p for p in plans if p.node_rank == n]
            env = {**job["env"], "SCRIPTRUN_NODE_ID": where[n]["node_id"]}
            launch = {"processes": build_processes(spec, mine, env, job["python"], job["workdir"]),
                      "timeout_seconds": spec.max_run_duration_seconds, "grace_seconds": GRACE_SECONDS,
                      "logs_dir": logs}
            refs.append(node_task.options(scheduling_strategy=bundle(n), num_cpus=1 / max(len(mine), 1)).remote(
                str(run_dir / NODES_DIR / f"node_{n}"), launch, job["workdir"]))
        return _first_failure(ray, refs, run_dir, Path(job["workdir"]), started)
    except _Stop:
        _cancel(ray, refs)
        return Outcome("canceled", exit_code=143, started=started, ended=time.time())
    finally:
        remove_placement_group(pg)


def _first_failure(ray: Any, refs: list[Any], run_dir: Path, workdir: Path, started: float) -> Outcome:
    """Wait for the node shims; the first that did not complete cancels the others and is
    the run's outcome."""
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            try:
                result = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a node task that died (its node was lost…)
                _cancel(ray, pending)
                return Outcome("failed", exit_code=1, failed_process=f"node task {refs.index(ref)}",
                               started=started, ended=time.time(), stderr_tail=f"{type(exc).__name__}: {exc}")
            _gather(result.get("files") or {}, run_dir, workdir)
            outcome = Outcome.from_json(result["outcome"])
            if outcome.reason != "completed":
                _cancel(ray, pending)
                return outcome
    return Outcome("completed", exit_code=0, started=started, ended=time.time())


def _gather(files: dict[str, bytes], run_dir: Path, workdir: Path) -> None:
    """Files a node sent back because it does not share our folders."""
    for rel, data in files.items():
        if rel == METRICS_FILE:
            with open(run_dir / METRICS_FILE, "ab") as fh:
                fh.write(data)
            continue
        target = (run_dir if rel.startswith(f"{LOGS_DIR}/") else workdir) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _cancel(ray: Any, refs: list[Any]) -> None:
    """Cancel node shims (SIGINT: they stop their processes) and give them time to do it."""
    for ref in refs:
        ray.cancel(ref)
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=GRACE_SECONDS + 3)


def drive(job: dict[str, Any]) -> tuple[Outcome, bool]:
    """Run the job; returns its outcome and whether the run folder is shared with the agent."""
    run_dir = Path(job["run_dir"])
    shared = job.get("shared_filesystem")
    if shared is None:
        shared = run_dir.is_dir() and os.access(run_dir, os.W_OK)
    if not shared:  # a scratch run folder of our own (Ray may clean its working_dir copy early)
        run_dir = Path(tempfile.mkdtemp(prefix="scriptrun-run-"))
        shutil.copytree(os.getcwd(), run_dir / WORKDIR)
        os.chdir(run_dir)
        for folder in (f"{WORKDIR}/outputs", f"{WORKDIR}/logs", LOGS_DIR):
            (run_dir / folder).mkdir(parents=True, exist_ok=True)
        job = {**job, "workdir": str(run_dir / WORKDIR), "env": {**job["env"], "SCRIPTRUN_RUN_DIR": str(run_dir)},
               "launch": None}  # the agent planned it in its own folders: plan it here
    try:
        one_node = job["spec"].get("node_count", 1) == 1
        outcome = drive_one_node(job, run_dir) if one_node else drive_nodes(job, run_dir)
        if not shared:
            publish(job, run_dir)
    finally:
        if not shared:
            os.chdir("/")
            shutil.rmtree(run_dir, ignore_errors=True)
    return outcome, shared


def publish(job: dict[str, Any], run_dir: Path) -> None:
    """Send what a run produced on a cluster that does not share the workspace to its
    tracking store: ``outputs/``, the process logs, and the metrics file (the agent ingests it)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(job["env"]["MLFLOW_TRACKING_URI"])
    run_id = job["env"]["MLFLOW_RUN_ID"]
    for local, artifact_path in ((Path(job["workdir"]) / "outputs", "outputs"), (run_dir / LOGS_DIR, PUBLISHED_LOGS)):
        if local.is_dir() and any(local.iterdir()):
            client.log_artifacts(run_id, str(local), artifact_path)
    metrics = run_dir / METRICS_FILE
    if metrics.exists():
        client.log_artifact(run_id, str(metrics), PUBLISHED_METRICS.rpartition("/")[0])


def main(job_file: str | None = None) -> int:
    job = json.loads(os.environ.get(JOB_VAR) or Path(job_file or JOB_FILE).read_text())
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        outcome, shared = drive(job)
    except _Stop:
        outcome, shared = Outcome("canceled", exit_code=143, ended=time.time()), False
    run_dir = Path(job["run_dir"])
    if shared and not (run_dir / EXIT_FILE).exists():
        outcome.write(run_dir)
    print(RESULT_MARKER + json.dumps(outcome.to_json()), flush=True)
    return 0 if outcome.reason == "completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
