"""Pipeline benchmarks, each against a baseline measured in the same run (warm agent).

1. A 10-step chain of trivial steps, first run (no reuse), versus the same 10 steps submitted as
   10 standalone runs one after another (each waits for the previous) — the per-step scheduling
   overhead of the pipeline controller. Target: at most 50 ms per step beyond a standalone run.
2. The same pipeline resubmitted unchanged: every step reused, submit → Completed.
   Target: at most 0.3 s (Azure ML's reused pipelines take about a second).

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--repeat N]``. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scriptrun import Experiment, ScriptRunConfig, Workspace
from scriptrun.pipeline.core import Pipeline
from scriptrun.pipeline.steps import PythonScriptStep
from scriptrun.runs.run import agent_client

STEPS = 10


def chain(ws: Workspace, folder: Path, allow_reuse: bool) -> Pipeline:
    steps = [PythonScriptStep(name=f"s{i}", allow_reuse=allow_reuse,
                              script_run_config=ScriptRunConfig(str(folder), "step.py", arguments=[i]))
             for i in range(STEPS)]
    for before, after in zip(steps, steps[1:], strict=False):
        after.run_after(before)
    return Pipeline(ws, steps)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.create(Path(tmp) / "ws")
        folder = Path(tmp) / "code"
        folder.mkdir()
        (folder / "step.py").write_text("import sys\nprint('step', sys.argv[1])\n")
        exp = Experiment(ws, "bench-pipeline")
        try:
            exp.submit(ScriptRunConfig(str(folder), "step.py", arguments=[0])).wait_for_completion()  # warm up
            standalone, pipeline, reused = [], [], []
            for _ in range(args.repeat):
                srcs = [ScriptRunConfig(str(folder), "step.py", arguments=[i]) for i in range(STEPS)]
                standalone.append(timed(lambda srcs=srcs: [exp.submit(s).wait_for_completion() for s in srcs]))
                pipeline.append(timed(lambda: chain(ws, folder, False).submit("bench-pipeline")
                                      .wait_for_completion(show_output=False)))
            chain(ws, folder, True).submit("bench-pipeline").wait_for_completion(show_output=False)
            for _ in range(max(args.repeat, 5)):
                reused.append(timed(lambda: chain(ws, folder, True).submit("bench-pipeline")
                                    .wait_for_completion(show_output=False)))
        finally:
            agent_client(ws).shutdown()
    s, p, r = statistics.median(standalone), statistics.median(pipeline), statistics.median(reused)
    per_step = (p - s) / STEPS
    ok1, ok2 = per_step <= 0.050, r <= 0.3
    print(f"1. {STEPS}-step chain of trivial steps vs {STEPS} standalone runs one after another "
          f"(median of {args.repeat})")
    print(f"   standalone {s:.2f} s, pipeline {p:.2f} s -> ratio {p / s:.2f}x, per-step overhead "
          f"{per_step * 1000:.0f} ms (target <= 50 ms: {'PASS' if ok1 else 'FAIL'})")
    print(f"2. fully reused resubmission, submit -> Completed (median of {len(reused)}): {r * 1000:.0f} ms "
          f"(target <= 300 ms: {'PASS' if ok2 else 'FAIL'}); vs one standalone trivial run "
          f"{s / STEPS * 1000:.0f} ms -> ratio {r / (s / STEPS):.2f}x")
    return 0 if ok1 and ok2 else 1


if __name__ == "__main__":
    sys.exit(main())
