"""Local-path benchmarks, each a ratio against a baseline measured in the same run.

1. Submit-to-completion of a trivial script through scriptrun (warm agent) versus
   ``python script.py`` — target: median overhead at most 0.5 s.
2. In-script ``run.log`` versus ``mlflow.log_metric`` on the same SQLite store, measured
   inside one submitted run — target: ``run.log`` at least 50x faster per call, and every
   logged value present in the run afterwards.

Run: ``.venv/bin/python benchmarks/bench_local.py [--repeat N]``. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import bench_workspace

from scriptrun import Experiment, ScriptRunConfig, Workspace

TRIVIAL = "print('hello')\n"

LOGGING = textwrap.dedent("""
    import json, sys, time
    import mlflow
    from scriptrun import Run

    n_log, n_mlflow = int(sys.argv[1]), int(sys.argv[2])
    run = Run.get_context()
    t = time.perf_counter()
    for i in range(n_log):
        run.log("fast", i)
    per_log = (time.perf_counter() - t) / n_log
    client = mlflow.MlflowClient()
    import os
    run_id = os.environ["MLFLOW_RUN_ID"]
    client.log_metric(run_id, "warmup", 0.0)
    t = time.perf_counter()
    for i in range(n_mlflow):
        client.log_metric(run_id, "slow", float(i), step=i)
    per_mlflow = (time.perf_counter() - t) / n_mlflow
    json.dump({"run_log_s": per_log, "mlflow_log_metric_s": per_mlflow}, open("outputs/bench.json", "w"))
""")


def bench_overhead(ws: Workspace, folder: Path, repeat: int) -> bool:
    exp = Experiment(ws, "bench-overhead")
    src = ScriptRunConfig(str(folder), "trivial.py")
    t = time.perf_counter()
    exp.submit(src).wait_for_completion()
    cold = time.perf_counter() - t
    bare, through = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, str(folder / "trivial.py")], check=True, capture_output=True)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        exp.submit(src).wait_for_completion()
        through.append(time.perf_counter() - t)
    b, s = statistics.median(bare), statistics.median(through)
    ok = s - b <= 0.5
    print("1. submit-to-completion of a trivial script (baseline: `python trivial.py`)")
    print(f"   first submission in a new workspace (starts the agent, creates the store): {cold:.2f} s")
    print(f"   median of {repeat}: bare python {b * 1000:.0f} ms, scriptrun {s * 1000:.0f} ms "
          f"-> ratio {s / b:.1f}x, overhead {(s - b) * 1000:.0f} ms (target <= 500 ms: {'PASS' if ok else 'FAIL'})")
    return ok


def bench_logging(ws: Workspace, folder: Path, n_log: int, n_mlflow: int) -> bool:
    run = Experiment(ws, "bench-logging").submit(
        ScriptRunConfig(str(folder), "logging_bench.py", arguments=[n_log, n_mlflow]))
    run.wait_for_completion()
    with tempfile.TemporaryDirectory() as tmp:
        result = json.loads(Path(run.download_file("outputs/bench.json", tmp)).read_text())
    fast, slow = result["run_log_s"], result["mlflow_log_metric_s"]
    metrics = run.get_metrics()
    complete = metrics.get("fast") == list(range(n_log))
    ratio = slow / fast
    ok = ratio >= 50 and complete
    print("2. in-script metric logging (baseline: mlflow.log_metric on the same SQLite store)")
    print(f"   run.log {fast * 1e6:.1f} us/call ({n_log} calls), mlflow.log_metric {slow * 1e3:.2f} ms/call "
          f"({n_mlflow} calls) -> run.log {ratio:.0f}x faster (target >= 50x: {'PASS' if ratio >= 50 else 'FAIL'})")
    print(f"   all {n_log} run.log values present after the run: {'yes' if complete else 'NO'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--log-calls", type=int, default=20000)
    parser.add_argument("--mlflow-calls", type=int, default=300)
    args = parser.parse_args()
    with bench_workspace({"trivial.py": TRIVIAL, "logging_bench.py": LOGGING}) as (ws, folder):
        ok = bench_overhead(ws, folder, args.repeat)
        ok = bench_logging(ws, folder, args.log_calls, args.mlflow_calls) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
