"""The Ray compute target against a real Ray cluster: a simulated two-node cluster
(``ray.cluster_utils.Cluster``: a head with no CPUs plus two 1-CPU nodes) on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import pid_alive, wait_for
from scriptrun import ConfigError, Experiment, PyTorchConfiguration, ScriptRunConfig, Workspace
from scriptrun.compute.targets import ComputeTarget, RayCluster
from scriptrun.rundir import is_terminal

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.ray]

@pytest.fixture(autouse=True)
def _no_job_outlives_its_test(shared_ws: Workspace) -> object:
    """A test that fails half-way must not leave a job holding one of the test cluster's two
    CPUs: every later two-node test would then wait for placement and fail too."""
    yield
    for run in Experiment(shared_ws, "ray").get_runs(include_children=True):
        if not is_terminal(run.get_status()):
            run.cancel()
            run.wait_for_completion(raise_on_error=False)


@pytest.fixture
def ray_ws(shared_ws: Workspace, ray_cluster: str) -> ComputeTarget:
    return ComputeTarget.attach(shared_ws, "ray-test", RayCluster.attach_configuration(address=ray_cluster))


TRAIN = """
    import json, os, sys
    from scriptrun import Run
    run = Run.get_context()
    for i in range(5):
        run.log("loss", 1.0 / (i + 1))
    with open("outputs/where.json", "w") as fh:
        json.dump({"args": sys.argv[1:],
                   "run_id": os.environ["SCRIPTRUN_RUN_ID"]}, fh)
    print("trained on ray", flush=True)
"""


def test_same_config_runs_locally_and_on_ray(shared_ws, ray_ws, project, tmp_path):
    folder = project(train=TRAIN)
    src = ScriptRunConfig(str(folder), "train.py", arguments=["--lr", 0.1])
    exp = Experiment(shared_ws, "ray")
    local_run = exp.submit(src)
    assert local_run.wait_for_completion()["status"] == "Completed"

    src.run_config.target = ray_ws  # the only change: the compute target
    run = exp.submit(src)
    details = run.wait_for_completion()
    assert details["status"] == "Completed" and details["target"] == "ray-test"
    assert run.get_metrics()["loss"] == local_run.get_metrics()["loss"]
    where = json.loads(Path(run.download_file("outputs/where.json", tmp_path / "w.json")).read_text())
    assert where["args"] == ["--lr", "0.1"] and where["run_id"] == run.id
    from ray.job_submission import JobSubmissionClient

    assert JobSubmissionClient(ray_ws.address).get_job_info(run.id).status == "SUCCEEDED"  # it ran on Ray
    assert "trained on ray" in Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()

    from mlflow.tracking import MlflowClient

    mlrun = MlflowClient(shared_ws.tracking_uri).get_run(details["mlflowRunId"])
    assert mlrun.info.status == "FINISHED" and mlrun.data.metrics["loss"] == pytest.approx(0.2)


def test_two_node_ddp_job_lands_on_two_ray_nodes(shared_ws, ray_ws, project, tmp_path):
    folder = project(train="""
        import json, os
        import torch, torch.distributed as dist
        dist.init_process_group("gloo", init_method="env://")
        t = torch.tensor([float(dist.get_rank() + 1)])
        dist.all_reduce(t)
        keys = ["RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "SCRIPTRUN_NODE_ID"]
        json.dump({"sum": t.item(), "env": {k: os.environ[k] for k in keys}},
                  open(f"outputs/rank_{dist.get_rank()}.json", "w"))
        dist.barrier()
        dist.destroy_process_group()
    """)
    src = ScriptRunConfig(str(folder), "train.py", compute_target="ray-test",
                          distributed_job_config=PyTorchConfiguration("Gloo", process_count=2, node_count=2))
    run = Experiment(shared_ws, "ray").submit(src)
    details = run.wait_for_completion()
    ranks = {}
    for r in (0, 1):
        path = run.download_file(f"outputs/rank_{r}.json", tmp_path / f"r{r}.json")
        ranks[r] = json.loads(Path(path).read_text())
    assert ranks[0]["sum"] == ranks[1]["sum"] == 3.0
    assert ranks[0]["env"]["SCRIPTRUN_NODE_ID"] != ranks[1]["env"]["SCRIPTRUN_NODE_ID"]
    assert [ranks[r]["env"]["NODE_RANK"] for r in (0, 1)] == ["0", "1"]
    assert {"user_logs/rank_0.txt", "user_logs/rank_1.txt"} <= set(details["logFiles"])


def test_cancel_a_ray_job_stops_its_processes(shared_ws, ray_ws, project, tmp_path):
    pid_file = tmp_path / "pid"
    folder = project(train=f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(300)
    """)
    run = Experiment(shared_ws, "ray").submit(ScriptRunConfig(str(folder), "train.py", compute_target="ray-test"))
    wait_for(pid_file.exists, timeout=120)
    # the agent sees the start on its next poll (a slow CI machine may need a moment)
    wait_for(lambda: run.get_status() == "Running", timeout=10)
    started = time.monotonic()
    run.cancel()
    assert run.wait_for_completion()["status"] == "Canceled"
    assert time.monotonic() - started < 60
    wait_for(lambda: not pid_alive(int(pid_file.read_text())), timeout=15)


def test_a_source_directory_too_big_for_the_cluster_is_a_clear_error(shared_ws, ray_ws, project):
    import os

    from conftest import RAY_PACKAGE_LIMIT

    folder = project(train="print('never runs')")
    (folder / "weights.bin").write_bytes(os.urandom(RAY_PACKAGE_LIMIT + 2**20))  # random: the zip can't shrink it
    run = Experiment(shared_ws, "ray").submit(ScriptRunConfig(str(folder), "train.py", compute_target="ray-test"))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    message = details["error"]["message"]
    assert "refused the run's source snapshot as its working_dir: the package is 33.00MiB" in message, message
    assert "over the cluster's limit of 32.00MiB" in message and ".amlignore" in message, message
    assert message.endswith("[SR-RAY-WORKING-DIR] see docs/troubleshooting/ray-working-dir-too-large.md"), message


def test_failing_ray_job_reports_the_error(shared_ws, ray_ws, project):
    folder = project(train="raise SystemExit('bad config on the cluster')")
    run = Experiment(shared_ws, "ray").submit(ScriptRunConfig(str(folder), "train.py", compute_target="ray-test"))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "bad config on the cluster" in details["error"]["stderr_tail"]


def test_ray_target_validation(shared_ws, ray_ws, project):
    folder = project(train="print(1)")
    remote = ComputeTarget.attach(shared_ws, "ray-remote",
                                  RayCluster.attach_configuration(address="http://10.1.2.3:8265"))
    assert [t.name for t in ComputeTarget.list(shared_ws)] == ["ray-remote", "ray-test"]
    with pytest.raises(ConfigError) as info:
        Experiment(shared_ws, "ray").submit(ScriptRunConfig(str(folder), "train.py", compute_target=remote))
    assert info.value.paths() == ["compute_target"]
    assert "tracking serve" in info.value.problems[0].hint
    remote.detach()
    assert [t.name for t in ComputeTarget.list(shared_ws)] == ["ray-test"]
    with pytest.raises(ConfigError, match="not a Ray dashboard address"):
        RayCluster.attach_configuration(address="ftp://x")


@pytest.mark.parametrize("nodes", [1, 2])
def test_cluster_without_shared_filesystem_sends_results_through_tracking(shared_ws, ray_cluster, project, tmp_path,
                                                                          nodes):
    ComputeTarget.attach(shared_ws, "ray-isolated",
                         RayCluster.attach_configuration(address=ray_cluster, shared_filesystem=False))
    folder = project(train="""
        import os
        from scriptrun import Run
        run = Run.get_context()
        rank = os.environ.get("RANK", "0")
        for i in range(3):
            run.log(f"loss_{rank}", i)
        run.log_row("summary", rank=int(rank))
        open(f"outputs/model_{rank}.txt", "w").write(rank)
        print("rank", rank, "done", flush=True)
    """)
    dist = PyTorchConfiguration("Gloo", process_count=2, node_count=2) if nodes == 2 else None
    run = Experiment(shared_ws, "ray").submit(ScriptRunConfig(str(folder), "train.py", compute_target="ray-isolated",
                                                              distributed_job_config=dist))
    details = run.wait_for_completion()
    ranks = ["0", "1"] if nodes == 2 else ["0"]
    metrics = run.get_metrics()
    for rank in ranks:
        assert metrics[f"loss_{rank}"] == [0, 1, 2]
        assert f"outputs/model_{rank}.txt" in run.get_file_names()
    log_name = "user_logs/rank_1.txt" if nodes == 2 else "user_logs/std_log.txt"
    assert f"rank {ranks[-1]} done" in Path(details["logFiles"][log_name]).read_text()
    assert not (shared_ws.run_dir(run.id) / "wd" / "outputs").exists() or \
        not any((shared_ws.run_dir(run.id) / "wd" / "outputs").iterdir())


def test_ray_run_gets_its_inputs_materialised(shared_ws, ray_ws, project, tmp_path):
    from scriptrun import Dataset, Datastore

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "data.txt").write_text("42")
    store = Datastore.get_default(shared_ws)
    store.upload(str(raw), target_path=f"ray-{tmp_path.name}", show_progress=False)
    data = Dataset.File.from_files((store, f"ray-{tmp_path.name}")).register(shared_ws, f"ray-in-{tmp_path.name}")
    folder = project(train="""
        import os, sys
        path = sys.argv[1].split("=", 1)[1]
        print("read", open(os.path.join(path, "data.txt")).read(), "env", os.environ["numbers"] == path, flush=True)
    """)
    numbers = data.as_named_input("numbers").as_download()
    run = Experiment(shared_ws, "ray").submit(ScriptRunConfig(str(folder), "train.py", compute_target="ray-test",
                                                              arguments=[f"--data={numbers}"], inputs=[numbers]))
    details = run.wait_for_completion()
    assert "read 42 env True" in Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()
    assert details["inputDatasets"][0]["dataset"].name == f"ray-in-{tmp_path.name}"


@pytest.mark.parametrize("nodes", [1, 2])
def test_ray_run_gets_its_secrets_and_stores_none(shared_ws, ray_ws, project, tmp_path, monkeypatch, nodes):
    import hashlib
    import uuid

    value = f"ray-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("RAY_TOKEN", value)
    folder = project(train="""
        import hashlib, json, os
        rank = os.environ.get("RANK", "0")
        json.dump({"sha": hashlib.sha256(os.environ["RAY_TOKEN"].encode()).hexdigest()},
                  open(f"outputs/secret_{rank}.json", "w"))
    """)
    dist = PyTorchConfiguration("Gloo", process_count=2, node_count=2) if nodes == 2 else None
    run = Experiment(shared_ws, "ray").submit(ScriptRunConfig(
        str(folder), "train.py", compute_target="ray-test", distributed_job_config=dist,
        secret_environment_variables=["RAY_TOKEN"]))
    details = run.wait_for_completion()
    assert details["secretEnvironmentVariables"] == {"RAY_TOKEN": "***"}
    for rank in range(nodes):
        seen = json.loads(Path(run.download_file(f"outputs/secret_{rank}.json", tmp_path / f"{rank}.json"))
                          .read_text())
        assert seen["sha"] == hashlib.sha256(value.encode()).hexdigest()
    leaks = [p for p in shared_ws.run_dir(run.id).rglob("*") if p.is_file() and value.encode() in p.read_bytes()]
    assert leaks == []
