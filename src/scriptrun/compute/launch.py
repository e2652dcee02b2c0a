"""Which processes a job starts and what each one sees: pure functions, shared by backends.

Given a :class:`JobSpec` and the hosts of its nodes, :func:`plan_processes` returns one
:class:`ProcessPlan` per process: its log name, the node it belongs to, the variables of its
rank, and what it should be wrapped in (``mpirun`` for MPI jobs). The local backend runs the
plans as several "virtual nodes" on this machine; the Ray backend places each node's plans
on its own cluster node. The rank environment is the same in both.

=====================  ==========================================================================
``distributed_job_config``  processes and variables
=====================  ==========================================================================
none                   one process (``std_log``)
PyTorch, process_count  ``process_count`` ranks over ``node_count`` nodes: ``MASTER_ADDR``,
                       ``MASTER_PORT``, ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``NODE_RANK``,
                       ``LOCAL_WORLD_SIZE`` (logs ``rank_<n>``)
PyTorch, per node      one process per node with ``MASTER_ADDR``, ``MASTER_PORT``, ``NODE_RANK``
                       (and ``NNODES``), for a user command such as ``torchrun`` (logs ``node_<n>``)
TensorFlow             one process per worker and per parameter server, each with its
                       ``TF_CONFIG`` (logs ``worker_<i>``, ``ps_<i>``)
MPI                    one ``mpirun -np node_count*process_count_per_node`` (log ``mpirun``);
                       each rank writes ``rank_<n>`` and sees MPI's own ``OMPI_COMM_WORLD_*``
ParallelTask           ``worker_count_per_node`` workers per node, each retried on failure
                       (logs ``worker_<i>``)
=====================  ==========================================================================
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from scriptrun.spec import JobSpec, MpiSpec, ParallelTaskSpec, PyTorchSpec, TensorflowSpec

MPI_RANK_WRAPPER = Path(__file__).resolve().parent / "mpi_rank.py"
LOOPBACK = "127.0.0.1"


def free_ports(count: int, host: str = "") -> list[int]:
    """``count`` distinct ports that are free on this host right now (``host`` to bind; all
    interfaces by default)."""
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


@dataclass(frozen=True)
class ProcessPlan:
    name: str
    node_rank: int
    env: dict[str, str] = field(default_factory=dict)
    wrapper: tuple[str, ...] = ()  # argv placed before the user's (mpirun ...)
    max_retries: int = 0
    terminal_exit_codes: tuple[int, ...] = ()


def plan_processes(spec: JobSpec, hosts: list[str], ports: list[int], *, python: str = "python",
                   logs_dir: str = "logs") -> list[ProcessPlan]:
    """The processes of ``spec`` on nodes ``hosts`` (one host per node, repeats allowed for
    virtual nodes). ``ports`` are free ports on ``hosts[0]``: the first is ``MASTER_PORT``;
    TensorFlow uses one per task."""
    if len(hosts) != spec.node_count:
        raise ValueError(f"{len(hosts)} hosts for a {spec.node_count}-node job")
    dist = spec.distributed_job_config
    common = {"AZUREML_NODE_COUNT": str(spec.node_count)}
    if dist is None:
        return [ProcessPlan("std_log", 0, common)]
    if isinstance(dist, PyTorchSpec):
        if hosts[0] == LOOPBACK:
            common["GLOO_SOCKET_IFNAME"] = "lo"  # virtual nodes talk over loopback
        return _pytorch(dist, hosts, ports[0], common)
    if isinstance(dist, TensorflowSpec):
        return _tensorflow(dist, hosts, ports, common)
    if isinstance(dist, MpiSpec):
        return _mpi(dist, spec.node_count, hosts, ports[0], common, python=python, logs_dir=logs_dir)
    if isinstance(dist, ParallelTaskSpec):
        return _parallel_task(dist, spec.node_count, common)
    raise TypeError(f"unknown distribution {dist!r}")


def ports_needed(spec: JobSpec) -> int:
    dist = spec.distributed_job_config
    if isinstance(dist, TensorflowSpec):
        return dist.worker_count + dist.parameter_server_count
    return 1


def _pytorch(dist: PyTorchSpec, hosts: list[str], port: int, common: dict[str, str]) -> list[ProcessPlan]:
    nodes = len(hosts)
    base = {**common, "MASTER_ADDR": hosts[0], "MASTER_PORT": str(port)}
    if dist.process_count is None:  # per-node launch: the user's command starts the ranks
        return [ProcessPlan(f"node_{n}", n, {**base, "NODE_RANK": str(n), "NNODES": str(nodes)})
                for n in range(nodes)]
    per_node = dist.process_count // nodes
    plans = []
    for rank in range(dist.process_count):
        node = rank // per_node
        plans.append(ProcessPlan(f"rank_{rank}", node, {
            **base, "WORLD_SIZE": str(dist.process_count), "RANK": str(rank), "LOCAL_RANK": str(rank % per_node),
            "NODE_RANK": str(node), "LOCAL_WORLD_SIZE": str(per_node), "GROUP_RANK": str(node),
        }))
    return plans


def _tensorflow(dist: TensorflowSpec, hosts: list[str], ports: list[int], common: dict[str, str]) -> list[ProcessPlan]:
    nodes = len(hosts)
    # task i (workers first, then parameter servers) runs on node i % nodes, port ports[i]
    tasks = dist.worker_count + dist.parameter_server_count
    addresses = [(f"{hosts[i % nodes]}:{ports[i]}", i % nodes) for i in range(tasks)]
    workers, ps = addresses[: dist.worker_count], addresses[dist.worker_count:]
    cluster = {"worker": [a for a, _ in workers]}
    if ps:
        cluster["ps"] = [a for a, _ in ps]
    plans = []
    for kind, members in (("worker", workers), ("ps", ps)):
        for index, (_, node) in enumerate(members):
            tf_config = {"cluster": cluster, "task": {"type": kind, "index": index}, "environment": "cloud"}
            plans.append(ProcessPlan(f"{kind}_{index}", node, {**common, "TF_CONFIG": json.dumps(tf_config),
                                                               "NODE_RANK": str(node)}))
    return plans


def _mpi(dist: MpiSpec, nodes: int, hosts: list[str], port: int, common: dict[str, str], *, python: str,
         logs_dir: str) -> list[ProcessPlan]:
    total = nodes * dist.process_count_per_node
    mpirun = shutil.which("mpirun") or "mpirun"
    argv = [mpirun, "-np", str(total), "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:
        argv.append("--allow-run-as-root")
    if len(set(hosts)) > 1:
        argv += ["--host", ",".join(f"{h}:{dist.process_count_per_node}" for h in hosts)]
    argv += [python, "-S", str(MPI_RANK_WRAPPER), logs_dir, "--"]
    env = {**common, "AZ_BATCH_MASTER_NODE": f"{hosts[0]}:{port}", "AZ_BATCHAI_MPI_MASTER_NODE": hosts[0],
           "SCRIPTRUN_MPI_PROCESSES_PER_NODE": str(dist.process_count_per_node)}
    return [ProcessPlan("mpirun", 0, env, wrapper=tuple(argv))]


def _parallel_task(dist: ParallelTaskSpec, nodes: int, common: dict[str, str]) -> list[ProcessPlan]:
    per_node = dist.worker_count_per_node
    total = nodes * per_node
    return [ProcessPlan(f"worker_{i}", i // per_node, {
        **common, "SCRIPTRUN_WORKER_INDEX": str(i), "SCRIPTRUN_WORKER_COUNT": str(total),
        "SCRIPTRUN_LOCAL_WORKER_INDEX": str(i % per_node), "NODE_RANK": str(i // per_node),
    }, max_retries=dist.max_retries_per_worker, terminal_exit_codes=tuple(dist.terminal_exit_codes or ()))
        for i in range(total)]
