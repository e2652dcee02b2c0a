"""Ray submission overhead: scriptrun versus Ray's own ``JobSubmissionClient``, same run.

Starts a local Ray cluster (loopback only), then submits the same trivial entrypoint N times
each way and waits for it to end: directly with ``JobSubmissionClient.submit_job`` (the
baseline), and as a scriptrun run with ``compute_target`` set to the attached cluster
(snapshot, agent, tracking, the driver's placement group, and finalisation included).

Run: ``.venv/bin/python benchmarks/bench_ray.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

DASHBOARD_PORT = 8296


def wait_job(client, job_id: str) -> str:
    while (status := str(client.get_job_status(job_id).value)) not in ("SUCCEEDED", "FAILED", "STOPPED"):
        time.sleep(0.05)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from ray.cluster_utils import Cluster
    from ray.job_submission import JobSubmissionClient

    from scriptrun import ComputeTarget, Experiment, RayCluster, ScriptRunConfig, Workspace
    from scriptrun.runs.run import agent_client

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": True,
                                                             "dashboard_port": DASHBOARD_PORT})
    address = f"http://127.0.0.1:{DASHBOARD_PORT}"
    with tempfile.TemporaryDirectory(prefix="scriptrun-bench-ray-") as tmp:
        root = Path(tmp)
        folder = root / "src"
        folder.mkdir()
        (folder / "trivial.py").write_text("print('hello')\n")
        ws = Workspace.create(root)
        try:
            for _ in range(120):
                try:
                    client = JobSubmissionClient(address)
                    break
                except Exception:  # noqa: BLE001 - the dashboard is still starting
                    time.sleep(0.5)
            ComputeTarget.attach(ws, "ray-bench", RayCluster.attach_configuration(address=address))
            exp = Experiment(ws, "bench-ray")
            src = ScriptRunConfig(str(folder), "trivial.py", compute_target="ray-bench")
            exp.submit(src).wait_for_completion()  # warm-up: agent, store, driver imports
            wait_job(client, client.submit_job(entrypoint=f"{sys.executable} trivial.py",
                                               runtime_env={"working_dir": str(folder)}))
            direct, through = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                job = client.submit_job(entrypoint=f"{sys.executable} trivial.py",
                                        runtime_env={"working_dir": str(folder)})
                assert wait_job(client, job) == "SUCCEEDED"
                direct.append(time.perf_counter() - t)
                t = time.perf_counter()
                assert exp.submit(src).wait_for_completion()["status"] == "Completed"
                through.append(time.perf_counter() - t)
            d, s = statistics.median(direct), statistics.median(through)
            print("Ray submission of a trivial script, submit -> finished "
                  "(baseline: JobSubmissionClient.submit_job of the same entrypoint)")
            print(f"   median of {args.repeat}: JobSubmissionClient {d:.2f} s, scriptrun {s:.2f} s "
                  f"-> ratio {s / d:.2f}x, overhead {s - d:.2f} s")
        finally:
            agent_client(ws).shutdown()
            cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
