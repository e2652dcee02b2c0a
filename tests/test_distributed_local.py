"""Distributed jobs on the local target: real PyTorch DDP (gloo), real mpirun, TF_CONFIG,
parallel tasks with retries, and multi-node emulation with virtual nodes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import pid_alive, wait_for
from scriptrun import (
    ConfigError,
    Experiment,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
)
from scriptrun.compute.launch import plan_processes
from scriptrun.spec import JobSpec

pytestmark = [pytest.mark.slow, pytest.mark.mpi]

DDP = """
    import gc, json, os
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method="env://")
    rank = dist.get_rank()
    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 1))
    loss = model(torch.ones(4, 2)).sum()
    loss.backward()
    keys = ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "LOCAL_WORLD_SIZE"]
    with open(f"outputs/rank_{rank}.json", "w") as fh:
        json.dump({"env": {k: os.environ.get(k) for k in keys}, "sum": t.item(),
                   "world": dist.get_world_size()}, fh)
    print(f"rank {rank} all_reduce={t.item()}", flush=True)
    del model
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
"""


def outputs(run, tmp_path: Path, pattern: str) -> dict[str, dict]:
    found = {}
    for name in run.get_file_names():
        if name.startswith("outputs/") and Path(name).match(pattern):
            found[Path(name).stem] = json.loads(Path(run.download_file(name, tmp_path / "dl" / name)).read_text())
    return found


# -- the launch plans (pure) ----------------------------------------------------------------------


def _spec(**kwargs) -> JobSpec:
    return JobSpec(source_directory="/tmp", script="train.py", **kwargs)


def test_pytorch_per_process_plan_spreads_ranks_over_nodes():
    spec = _spec(distributed_job_config={"type": "pytorch", "process_count": 4, "communication_backend": "gloo"},
                 node_count=2)
    plans = plan_processes(spec, ["10.0.0.1", "10.0.0.2"], [6105])
    assert [p.name for p in plans] == ["rank_0", "rank_1", "rank_2", "rank_3"]
    assert [p.node_rank for p in plans] == [0, 0, 1, 1]
    env = plans[3].env
    assert env["MASTER_ADDR"] == "10.0.0.1" and env["MASTER_PORT"] == "6105"
    assert (env["WORLD_SIZE"], env["RANK"], env["LOCAL_RANK"], env["NODE_RANK"], env["LOCAL_WORLD_SIZE"]) == \
        ("4", "3", "1", "1", "2")


def test_pytorch_per_node_plan_is_one_process_per_node():
    spec = _spec(distributed_job_config={"type": "pytorch", "communication_backend": "gloo"}, node_count=2)
    plans = plan_processes(spec, ["a", "b"], [29500])
    assert [(p.name, p.env["NODE_RANK"], p.env["MASTER_ADDR"]) for p in plans] == [("node_0", "0", "a"),
                                                                                  ("node_1", "1", "a")]
    assert "RANK" not in plans[0].env


def test_tensorflow_plan_gives_every_task_its_tf_config():
    spec = _spec(distributed_job_config={"type": "tensorflow", "worker_count": 2, "parameter_server_count": 1},
                 node_count=2)
    plans = plan_processes(spec, ["h0", "h1"], [2222, 2223, 2224])
    configs = {p.name: json.loads(p.env["TF_CONFIG"]) for p in plans}
    assert set(configs) == {"worker_0", "worker_1", "ps_0"}
    cluster = {"worker": ["h0:2222", "h1:2223"], "ps": ["h0:2224"]}
    for name, cfg in configs.items():
        kind, index = name.rsplit("_", 1)
        assert cfg == {"cluster": cluster, "task": {"type": kind, "index": int(index)}, "environment": "cloud"}


def test_mpi_plan_is_one_mpirun_for_all_ranks():
    spec = _spec(distributed_job_config={"type": "mpi", "process_count_per_node": 2}, node_count=2)
    (plan,) = plan_processes(spec, ["n0", "n1"], [6105], python="/usr/bin/python3")
    assert plan.name == "mpirun"
    assert plan.wrapper[plan.wrapper.index("-np") + 1] == "4"
    assert "--host" in plan.wrapper and "n0:2,n1:2" in plan.wrapper
    assert plan.env["AZ_BATCH_MASTER_NODE"] == "n0:6105"


def test_parallel_task_plan_carries_retry_policy():
    spec = _spec(distributed_job_config={"type": "parallel_task", "worker_count_per_node": 2,
                                         "max_retries_per_worker": 3, "terminal_exit_codes": [42]}, node_count=2)
    plans = plan_processes(spec, ["a", "b"], [1])
    assert [p.env["SCRIPTRUN_WORKER_INDEX"] for p in plans] == ["0", "1", "2", "3"]
    assert [p.node_rank for p in plans] == [0, 0, 1, 1]
    assert all(p.max_retries == 3 and p.terminal_exit_codes == (42,) for p in plans)


# -- validation -------------------------------------------------------------------------------------


def test_nccl_without_gpu_is_refused_with_a_gloo_hint(shared_ws, project):
    """Asked for explicitly: without a backend, a machine without GPUs gets Gloo (test_cli_conventions)."""
    folder = project(train="print(1)")
    with pytest.raises(ConfigError) as info:
        Experiment(shared_ws, "dist").submit(ScriptRunConfig(
            str(folder), "train.py",
            distributed_job_config=PyTorchConfiguration(process_count=2, communication_backend="Nccl")))
    (problem,) = info.value.problems
    assert problem.path == "distributed_job_config.communication_backend"
    assert "Gloo" in problem.hint


def test_uneven_process_count_and_nodes_without_distribution_are_refused(project):
    folder = project(train="print(1)")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(folder), "train.py", node_count=2,
                        distributed_job_config=PyTorchConfiguration("Gloo", process_count=3, node_count=2)
                        ).to_job_spec()
    assert info.value.paths() == ["distributed_job_config.process_count"]
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(folder), "train.py", node_count=2).to_job_spec()
    assert info.value.paths() == ["node_count"]


# -- real jobs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [1, 2])
def test_pytorch_ddp_all_reduce(shared_ws, project, tmp_path, nodes):
    folder = project(train=DDP)
    run = Experiment(shared_ws, "ddp").submit(ScriptRunConfig(
        str(folder), "train.py",
        distributed_job_config=PyTorchConfiguration(communication_backend="Gloo", process_count=2, node_count=nodes)))
    details = run.wait_for_completion()
    ranks = outputs(run, tmp_path, "rank_*.json")
    assert set(ranks) == {"rank_0", "rank_1"}
    for r in (0, 1):
        seen = ranks[f"rank_{r}"]
        assert seen["sum"] == 3.0 and seen["world"] == 2
        env = seen["env"]
        assert env["RANK"] == str(r) and env["WORLD_SIZE"] == "2" and env["MASTER_ADDR"] == "127.0.0.1"
        assert env["NODE_RANK"] == (str(r) if nodes == 2 else "0")
        assert env["LOCAL_RANK"] == ("0" if nodes == 2 else str(r))
        assert env["LOCAL_WORLD_SIZE"] == ("1" if nodes == 2 else "2")
    logs = details["logFiles"]
    assert "all_reduce=3.0" in Path(logs["user_logs/rank_1.txt"]).read_text()
    assert list(logs)[0] == "user_logs/rank_0.txt"  # rank 0 first


def test_pytorch_per_node_launch_with_torchrun(shared_ws, project, tmp_path):
    folder = project(train=DDP)
    cmd = ["python", "-m", "torch.distributed.run", "--nnodes", "$NNODES", "--node_rank", "$NODE_RANK",
           "--nproc_per_node", "1", "--master_addr", "$MASTER_ADDR", "--master_port", "$MASTER_PORT", "train.py"]
    run = Experiment(shared_ws, "ddp").submit(ScriptRunConfig(
        str(folder), command=cmd,
        distributed_job_config=PyTorchConfiguration(communication_backend="Gloo", node_count=2)))
    run.wait_for_completion()
    ranks = outputs(run, tmp_path, "rank_*.json")
    assert {k: v["sum"] for k, v in ranks.items()} == {"rank_0": 3.0, "rank_1": 3.0}
    assert ranks["rank_1"]["env"]["NODE_RANK"] == "1"


@pytest.mark.parametrize(("per_node", "nodes"), [(2, 1), (1, 2)])
def test_mpi_allreduce_with_mpirun(shared_ws, project, tmp_path, per_node, nodes):
    folder = project(train="""
        import json, os
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
        total = comm.allreduce(comm.Get_rank() + 1)
        env = {k: v for k, v in os.environ.items() if k.startswith(("OMPI_COMM_WORLD", "AZ_BATCH"))}
        json.dump({"total": total, "size": comm.Get_size(), "env": env},
                  open(f"outputs/mpi_{comm.Get_rank()}.json", "w"))
        print("rank", comm.Get_rank(), "total", total, flush=True)
    """)
    run = Experiment(shared_ws, "mpi").submit(ScriptRunConfig(
        str(folder), "train.py",
        distributed_job_config=MpiConfiguration(process_count_per_node=per_node, node_count=nodes)))
    details = run.wait_for_completion()
    ranks = outputs(run, tmp_path, "mpi_*.json")
    assert set(ranks) == {"mpi_0", "mpi_1"}
    for r in (0, 1):
        seen = ranks[f"mpi_{r}"]
        assert seen["total"] == 3 and seen["size"] == 2
        assert seen["env"]["OMPI_COMM_WORLD_RANK"] == str(r) and seen["env"]["OMPI_COMM_WORLD_SIZE"] == "2"
        assert seen["env"]["AZ_BATCH_MASTER_NODE"].startswith("127.0.0.1:")
    assert "total 3" in Path(details["logFiles"]["user_logs/rank_1.txt"]).read_text()


def test_mpi_failing_rank_is_named_in_the_error(shared_ws, project):
    folder = project(train="""
        import os, sys, time
        if os.environ["OMPI_COMM_WORLD_RANK"] == "1":
            sys.exit("rank one gives up")
        time.sleep(60)
    """)
    run = Experiment(shared_ws, "mpi").submit(ScriptRunConfig(
        str(folder), "train.py", distributed_job_config=MpiConfiguration(process_count_per_node=2)))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "rank_1" in details["error"]["message"]
    assert "rank one gives up" in details["error"]["stderr_tail"]


def test_tensorflow_job_sees_tf_config_per_task(shared_ws, project, tmp_path):
    folder = project(train="""
        import json, os
        cfg = json.loads(os.environ["TF_CONFIG"])
        task = cfg["task"]
        json.dump(cfg, open(f"outputs/{task['type']}_{task['index']}.json", "w"))
    """)
    run = Experiment(shared_ws, "tf").submit(ScriptRunConfig(
        str(folder), "train.py",
        distributed_job_config=TensorflowConfiguration(worker_count=2, parameter_server_count=1)))
    run.wait_for_completion()
    tasks = outputs(run, tmp_path, "*.json")
    assert set(tasks) == {"worker_0", "worker_1", "ps_0"}
    clusters = {json.dumps(t["cluster"], sort_keys=True) for t in tasks.values()}
    assert len(clusters) == 1
    cluster = tasks["ps_0"]["cluster"]
    assert len(cluster["worker"]) == 2 and len(cluster["ps"]) == 1
    assert len(set(cluster["worker"] + cluster["ps"])) == 3  # every task has its own port
    assert tasks["worker_1"]["task"] == {"type": "worker", "index": 1}


def test_parallel_task_retries_failed_workers(shared_ws, project, tmp_path):
    folder = project(train="""
        import os, sys
        worker, attempt = os.environ["SCRIPTRUN_WORKER_INDEX"], int(os.environ["SCRIPTRUN_ATTEMPT"])
        if worker == "1" and attempt < 2:
            sys.exit(5)
        open(f"outputs/worker_{worker}.json", "w").write(f'{{"attempt": {attempt}}}')
    """)
    cfg = ParallelTaskConfiguration()
    cfg.worker_count_per_node = 2
    cfg.max_retries_per_worker = 2
    run = Experiment(shared_ws, "ptask").submit(ScriptRunConfig(str(folder), "train.py", distributed_job_config=cfg))
    details = run.wait_for_completion()
    done = outputs(run, tmp_path, "worker_*.json")
    assert done == {"worker_0": {"attempt": 0}, "worker_1": {"attempt": 2}}
    assert "retry 2 of 2" in Path(details["logFiles"]["user_logs/worker_1.txt"]).read_text()


def test_parallel_task_terminal_exit_code_is_not_retried(shared_ws, project):
    folder = project(train="""
        import os, sys
        sys.exit(42 if os.environ["SCRIPTRUN_WORKER_INDEX"] == "0" else 0)
    """)
    cfg = ParallelTaskConfiguration()
    cfg.max_retries_per_worker = 5
    cfg.terminal_exit_codes = [42]
    run = Experiment(shared_ws, "ptask").submit(ScriptRunConfig(str(folder), "train.py", distributed_job_config=cfg))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed" and details["error"]["exit_code"] == 42
    assert "retry" not in Path(details["logFiles"]["user_logs/worker_0.txt"]).read_text()


def test_one_failing_rank_stops_the_others(shared_ws, project, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    folder = project(train=f"""
        import os, sys, time
        open(os.path.join({str(pids)!r}, os.environ["RANK"]), "w").write(str(os.getpid()))
        if os.environ["RANK"] == "1":
            time.sleep(0.5)
            raise RuntimeError("rank 1 ran out of memory")
        time.sleep(120)
    """)
    started = time.monotonic()
    run = Experiment(shared_ws, "dist").submit(ScriptRunConfig(
        str(folder), "train.py", distributed_job_config=PyTorchConfiguration("Gloo", process_count=2)))
    details = run.wait_for_completion(raise_on_error=False)
    assert time.monotonic() - started < 60
    assert details["status"] == "Failed"
    assert "rank_1" in details["error"]["message"] and "out of memory" in details["error"]["stderr_tail"]
    wait_for(lambda: not pid_alive(int((pids / "0").read_text())), timeout=5)


def test_cancel_stops_every_rank(shared_ws, project, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    folder = project(train=f"""
        import os, time
        open(os.path.join({str(pids)!r}, os.environ["RANK"]), "w").write(str(os.getpid()))
        time.sleep(120)
    """)
    run = Experiment(shared_ws, "dist").submit(ScriptRunConfig(
        str(folder), "train.py", distributed_job_config=PyTorchConfiguration("Gloo", process_count=2, node_count=2)))
    wait_for(lambda: len(list(pids.iterdir())) == 2, timeout=60)
    run.cancel()
    assert run.wait_for_completion()["status"] == "Canceled"
    for f in pids.iterdir():
        wait_for(lambda f=f: not pid_alive(int(f.read_text())), timeout=5)
