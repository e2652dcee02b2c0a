"""The same job on the local target and on a Ray cluster — only `compute_target` changes.

Starts a simulated two-node Ray cluster on this machine (loopback only), attaches it to the
workspace, then runs a 2-process PyTorch DDP job three ways: locally on one node, locally on
two virtual nodes, and on the Ray cluster with one rank per Ray node. With a real cluster,
skip the start-up and attach it by address:

    ray start --head            # on the head node; dashboard on :8265
    scriptrun compute attach-ray my-cluster --address http://<head>:8265
"""

import os
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on loopback

from ray.cluster_utils import Cluster  # noqa: E402
from ray.job_submission import JobSubmissionClient  # noqa: E402

from scriptrun import (  # noqa: E402
    ComputeTarget,
    Experiment,
    PyTorchConfiguration,
    RayCluster,
    ScriptRunConfig,
    Workspace,
)

DASHBOARD_PORT = 8295
here = Path(__file__).parent

print("starting a two-node Ray cluster on this machine…", flush=True)
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": True,
                                                         "dashboard_port": DASHBOARD_PORT})
try:
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    address = f"http://127.0.0.1:{DASHBOARD_PORT}"
    for _ in range(120):
        try:
            JobSubmissionClient(address).list_jobs()
            break
        except Exception:  # noqa: BLE001 - the dashboard is still starting
            time.sleep(0.5)

    ws = Workspace.resolve()
    ComputeTarget.attach(ws, "ray-local", RayCluster.attach_configuration(address=address))
    experiment = Experiment(ws, "ray-example")

    for label, nodes, target in (("local, 1 node", 1, "local"), ("local, 2 virtual nodes", 2, "local"),
                                 ("Ray, 2 nodes", 2, "ray-local")):
        src = ScriptRunConfig(here, "ddp_train.py", compute_target=target,
                              distributed_job_config=PyTorchConfiguration("Gloo", process_count=2, node_count=nodes))
        print(f"\n=== {label} ===", flush=True)
        run = experiment.submit(src)
        details = run.wait_for_completion(show_output=True)
        for name, path in details["logFiles"].items():
            if name.endswith("rank_1.txt"):
                print("rank 1:", Path(path).read_text().strip().splitlines()[-1])
        print("final loss:", run.get_metrics()["loss"][-1])
finally:
    cluster.shutdown()
