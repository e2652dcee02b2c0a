"""Run throughput of the local agent, a ratio against bare python in the same run.

N trivial runs go to a workspace with ``max_concurrent_runs=K``; the clock stops when the
last one has ended and its end is written to MLflow (runs/s = N / wall time). Measured two
ways: the agent's throughput (one job planned once, then N submissions of it, as a sweep
or a pipeline hands its children to the agent), and end to end through
``Experiment.submit`` (each submission also validates and snapshots in the client). The
baseline starts the same N ``python trivial.py`` processes from K threads. Targets
(issue 14): at least 100 runs/s with K=8, and at least 0.5x bare python. The growth shape:
one trivial run's submit -> Completed with a few runs in the workspace and again with over
1,000 (target: flat).

Run: ``flock /tmp/scriptrun-heavy.lock .venv/bin/python benchmarks/bench_throughput.py [--runs N]``.
Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import calendar
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import bench_workspace, median_seconds

from scriptrun import Experiment, ScriptRunConfig, Workspace
from scriptrun.agent import protocol
from scriptrun.config.prepare import prepare_job
from scriptrun.rundir import is_terminal
from scriptrun.runs.run import agent_client, new_run_id
from scriptrun.runs.submit import plan_job

TRIVIAL = "pass\n"


def rate(argv: list[str], runs: int, concurrency: int) -> float:
    """Processes per second: ``argv`` run ``runs`` times from ``concurrency`` threads."""
    t = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: subprocess.run(argv, check=True), range(runs)))
    return runs / (time.perf_counter() - t)


def supervised(script: Path) -> list[str]:
    """The floor of any supervised run: a stdlib-only Python supervisor (like scriptrun's
    shim) that starts the job's Python."""
    return [sys.executable, "-S", "-c", f"import subprocess, sys; subprocess.run([sys.executable, {str(script)!r}], "
                                        "check=True)"]


def through_agent(ws: Workspace, folder: Path, runs: int) -> tuple[float, float]:
    """runs/s of N submissions of one planned job (the agent's part): until the last run's
    end is in MLflow, and until it ended (its run folder says so)."""
    spec = prepare_job(ScriptRunConfig(str(folder), "trivial.py"), ws)
    plan = plan_job(spec, ws)
    client = agent_client(ws)
    t, wall0 = time.perf_counter(), time.time()
    ids = []
    for _ in range(runs):
        ids.append(new_run_id("bench-agent"))
        client.request(protocol.Submit(run_id=ids[-1], experiment="bench-agent", spec=spec.model_dump(mode="json"),
                                       snapshot_id=plan.snapshot_id, client_env=dict(os.environ),
                                       client_python=sys.executable))
    _wait_all(client, ids)
    synced = runs / (time.perf_counter() - t)
    last_end = max(_ts(client.request(protocol.Details(run_id=i))["endTimeUtc"]) for i in ids)
    return synced, runs / (last_end - wall0)


def _ts(iso: str) -> float:
    main, frac = iso.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000


def through_submit(ws: Workspace, folder: Path, runs: int) -> float:
    """runs/s end to end through Experiment.submit."""
    exp = Experiment(ws, "bench-throughput")
    src = ScriptRunConfig(str(folder), "trivial.py")
    t = time.perf_counter()
    submitted = [exp.submit(src) for _ in range(runs)]
    _wait_all(agent_client(ws), [run.id for run in submitted])
    return runs / (time.perf_counter() - t)


def _wait_all(client, ids: list[str]) -> None:
    for run_id in ids:
        while not is_terminal(status := client.request(protocol.Wait(run_id=run_id, timeout=30))):
            pass
        if status != "Completed":
            raise SystemExit(f"run {run_id} ended {status}")


def single_run_seconds(ws: Workspace, folder: Path, repeat: int = 7) -> float:
    """Median submit -> Completed of one trivial run at a time (the growth shape: the same
    figure with few and with many runs in the workspace should stay flat)."""
    exp = Experiment(ws, "bench-single")
    src = ScriptRunConfig(str(folder), "trivial.py")
    return median_seconds(lambda: exp.submit(src).wait_for_completion(), repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with bench_workspace({"trivial.py": TRIVIAL}, max_concurrent_runs=args.concurrency) as (ws, folder):
        Experiment(ws, "warm-up").submit(ScriptRunConfig(str(folder), "trivial.py")).wait_for_completion()
        few = single_run_seconds(ws, folder)
        base = rate([sys.executable, str(folder / "trivial.py")], args.runs, args.concurrency)
        floor = rate(supervised(folder / "trivial.py"), args.runs, args.concurrency)
        agent, ended = through_agent(ws, folder, args.runs)
        end_to_end = through_submit(ws, folder, args.runs)
        many = single_run_seconds(ws, folder)
        in_workspace = len(list(ws.runs_dir.iterdir()))
    ok = agent >= 100 and agent / base >= 0.5
    print(f"throughput of {args.runs} trivial runs, max_concurrent_runs={args.concurrency} "
          f"(baseline: bare python from {args.concurrency} threads: {base:.0f} runs/s)")
    print(f"   agent (one planned job submitted {args.runs}x): {agent:.1f} runs/s -> {agent / base:.2f}x bare python "
          f"(targets >= 100 runs/s and >= 0.5x: {'PASS' if ok else 'FAIL'})")
    print(f"   agent, until the runs ended (run folders; MLflow still catching up): {ended:.1f} runs/s -> "
          f"{ended / base:.2f}x bare python")
    print(f"   end to end through Experiment.submit: {end_to_end:.1f} runs/s -> {end_to_end / base:.2f}x")
    print(f"   floor: a supervisor process starting each job's python, from {args.concurrency} threads: "
          f"{floor:.0f} runs/s; the agent reaches {agent / floor:.2f}x of it")
    print(f"growth: one trivial run, submit -> Completed, median of 7: {few * 1000:.0f} ms with <= 8 runs in the "
          f"workspace, {many * 1000:.0f} ms with {in_workspace} ({many / few:.2f}x; target: flat)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
