"""Load figures (issue 12): nothing lost under concurrent submission, memory bounded under a log flood.

1. 50 runs submitted from 5 processes at once (10 each), every run logging 1,000 metric
   values with ``run.log``. Counted: runs lost (submitted but not listed, or not Completed),
   metric values lost in ``get_metrics()`` and in MLflow (``get_metric_history``), database
   errors in the agent's log, and the wall time — against the same 50 scripts run with bare
   ``python`` from 5 processes (offline ``run.log``), measured in the same invocation.
2. A run printing 1 GB of log lines: the agent's RSS sampled every 0.1 s (peak versus before
   the run), and ``scriptrun run list`` timed meanwhile versus before the run.

Targets: 0 runs lost, 0 metric values lost, 0 errors, agent peak RSS within 100 MB of its
size before the flood, ``run list`` during the flood within 2x of an idle agent.

Run: ``.venv/bin/python benchmarks/bench_load.py [--runs-per-process 10] [--log-mb 1024]``.
Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from _common import bench_workspace

from scriptrun import Experiment, Run, ScriptRunConfig, Workspace

PROCESSES = 5
METRICS = 1000

LOGGER = textwrap.dedent(f"""
    from scriptrun import Run
    run = Run.get_context()
    for i in range({METRICS}):
        run.log("loss", i)
""")

FLOOD = textwrap.dedent("""
    import sys
    line = b"x" * 1023 + b"\\n"
    block = line * 1024  # 1 MiB
    for _ in range(int(sys.argv[1])):
        sys.stdout.buffer.write(block)
""")

SUBMITTER = textwrap.dedent("""
    import json, sys, traceback
    from scriptrun import Experiment, ScriptRunConfig, Workspace
    ws, folder, n = Workspace.get(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ids, errors = [], []
    for _ in range(n):
        try:
            ids.append(Experiment(ws, "load").submit(ScriptRunConfig(folder, "logger.py")).id)
        except Exception:
            errors.append(traceback.format_exc())
    print(json.dumps({"ids": ids, "errors": errors}))
""")

BARE = textwrap.dedent("""
    import subprocess, sys
    for _ in range(int(sys.argv[2])):
        subprocess.run([sys.executable, sys.argv[1]], check=True, capture_output=True)
""")

DB_ERRORS = re.compile(r"OperationalError|database is locked|IntegrityError|Traceback|sqlite3\.", re.I)


def agent_pid(root: Path) -> int | None:
    """The pid of this workspace's agent (read from /proc; nothing is signalled)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"scriptrun.agent" in cmd and str(root).encode() in cmd:
                return int(entry)
    return None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_list_seconds(root: Path) -> float:
    cli = Path(sys.executable).with_name("scriptrun")
    t = time.perf_counter()
    subprocess.run([str(cli), "run", "list"], cwd=root, check=True, capture_output=True)
    return time.perf_counter() - t


def bench_submissions(ws: Workspace, folder: Path, per_process: int) -> bool:
    total = PROCESSES * per_process
    t = time.perf_counter()
    bare = [subprocess.Popen([sys.executable, "-c", BARE, str(folder / "logger.py"), str(per_process)])
            for _ in range(PROCESSES)]
    for p in bare:
        p.wait()
    bare_s = time.perf_counter() - t

    errors_before = len(DB_ERRORS.findall((ws.dir / "agent.log").read_text(errors="replace")))
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", SUBMITTER, str(ws.root), str(folder), str(per_process)],
                              stdout=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    ids, submit_errors = [], []
    for p in procs:
        out = json.loads(p.communicate()[0])
        ids += out["ids"]
        submit_errors += out["errors"]
    runs = [Run.get(ws, run_id) for run_id in ids]
    for run in runs:
        run.wait_for_completion(raise_on_error=False)
    wall = time.perf_counter() - t

    from mlflow import MlflowClient

    client = MlflowClient(ws.tracking_uri)
    listed = {r.id for r in Experiment(ws, "load").get_runs()}
    lost_runs = (total - len(ids)) + len(set(ids) - listed)
    not_completed = [r.id for r in runs if r.get_status() != "Completed"]
    expected = set(range(METRICS))
    lost_get = lost_mlflow = extra = 0
    for run in runs:
        got = run.get_metrics().get("loss", [])
        history = [int(m.value) for m in client.get_metric_history(run.get_details()["mlflowRunId"], "loss")]
        lost_get += len(expected - set(got))
        lost_mlflow += len(expected - set(history))
        extra += (len(got) - len(set(got))) + (len(history) - len(set(history)))  # duplicated values
    db_errors = len(DB_ERRORS.findall((ws.dir / "agent.log").read_text(errors="replace"))) - errors_before
    ok = not (lost_runs or not_completed or lost_get or lost_mlflow or extra or db_errors or submit_errors)
    print(f"1. {total} runs from {PROCESSES} processes at once, {METRICS} run.log values each")
    print(f"   runs lost {lost_runs}, not Completed {len(not_completed)}, submit errors {len(submit_errors)}, "
          f"metric values lost: get_metrics {lost_get}, MLflow {lost_mlflow}, duplicated {extra}; "
          f"DB errors in agent.log {db_errors}")
    print(f"   wall time {wall:.1f} s ({total / wall:.1f} runs/s); bare python from {PROCESSES} processes "
          f"{bare_s:.1f} s -> {wall / bare_s:.1f}x  ({'PASS' if ok else 'FAIL'}: target 0 lost, 0 errors)")
    for err in submit_errors[:3]:
        print(textwrap.indent(err, "   | "))
    return ok


def bench_flood(ws: Workspace, folder: Path, log_mb: int) -> bool:
    pid = agent_pid(ws.root)
    assert pid is not None, "the agent is not running"
    idle = [run_list_seconds(ws.root) for _ in range(5)]
    before = rss_mb(pid)
    run = Experiment(ws, "flood").submit(ScriptRunConfig(str(folder), "flood.py", arguments=[log_mb]))
    peak, during, done = before, [], threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    while run.get_status() not in ("Completed", "Failed", "Canceled"):
        during.append(run_list_seconds(ws.root))
    elapsed = time.perf_counter() - t
    done.set()
    sampler.join()
    log_size = sum(f.stat().st_size for f in (ws.dir / "runs").rglob("*.txt") if run.id in str(f))
    i, d = statistics.median(idle), statistics.median(during) if during else float("nan")
    ok = run.get_status() == "Completed" and peak - before <= 100 and d <= 2 * i
    print(f"2. a run printing {log_mb} MB of log ({elapsed:.1f} s to completion, {log_size / 2**20:.0f} MB in its "
          "run folder's logs)")
    print(f"   agent RSS {before:.0f} MB before, peak {peak:.0f} MB during (+{peak - before:.0f} MB; "
          f"target <= +100 MB)")
    print(f"   `scriptrun run list`: {i * 1000:.0f} ms idle, {d * 1000:.0f} ms median during the flood "
          f"({len(during)} calls) -> {d / i:.2f}x ({'PASS' if ok else 'FAIL'}: target <= 2x)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-per-process", type=int, default=10)
    parser.add_argument("--log-mb", type=int, default=1024)
    parser.add_argument("--max-concurrent-runs", type=int, default=4)
    args = parser.parse_args()
    with bench_workspace({"logger.py": LOGGER, "flood.py": FLOOD}, prefix="scriptrun-bench-load-",
                         max_concurrent_runs=args.max_concurrent_runs) as (ws, folder):
        Experiment(ws, "warmup").submit(ScriptRunConfig(str(folder), "logger.py")).wait_for_completion()
        ok = bench_submissions(ws, folder, args.runs_per_process)
        ok = bench_flood(ws, folder, args.log_mb) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
