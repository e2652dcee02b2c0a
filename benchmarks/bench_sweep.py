"""Sweep benchmarks, each against a baseline measured in the same run (warm agent).

1. A sweep of 20 trials of a trivial script (it logs the primary metric once) versus the same 20
   runs submitted standalone, both at the same concurrency (the workspace's
   ``max_concurrent_runs``): the per-trial overhead of the sweep controller.
   Target: at most 0.1 s per trial (Ray Tune pays about 1 s per trial in fresh processes).
2. The Bayesian sampler's time per suggestion with 100 past trials (optuna TPE, rebuilt from the
   history at each suggestion), versus a random suggestion.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--repeat N]``. Exits 1 if target 1 is missed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scriptrun import Experiment, ScriptRunConfig, Workspace
from scriptrun.hyperdrive.sampling import suggest
from scriptrun.runs.run import agent_client
from scriptrun.train.hyperdrive import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    RandomParameterSampling,
    choice,
    quniform,
    uniform,
)

TRIALS = 20
CONCURRENCY = 4
TRIVIAL = "import sys\nfrom scriptrun import Run\nRun.get_context().log('score', float(sys.argv[-1]))\n"


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_trials(repeat: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.create(Path(tmp) / "ws")
        (ws.dir / "config.yaml").write_text(f"max_concurrent_runs: {CONCURRENCY}\n")
        ws = Workspace.get(Path(tmp) / "ws")
        folder = Path(tmp) / "code"
        folder.mkdir()
        (folder / "trial.py").write_text(TRIVIAL)
        exp = Experiment(ws, "bench-sweep")
        values = [round(0.05 * i, 2) for i in range(TRIALS)]

        def standalone() -> None:
            runs = [exp.submit(ScriptRunConfig(str(folder), "trial.py", arguments=["--x", v])) for v in values]
            for run in runs:
                run.wait_for_completion()

        def sweep() -> None:
            hdc = HyperDriveConfig(GridParameterSampling({"--x": choice(*values)}), "score", "maximize",
                                   max_total_runs=TRIALS, max_concurrent_runs=CONCURRENCY,
                                   run_config=ScriptRunConfig(str(folder), "trial.py"))
            assert exp.submit(hdc).wait_for_completion()["status"] == "Completed"

        try:
            exp.submit(ScriptRunConfig(str(folder), "trial.py", arguments=[0])).wait_for_completion()  # warm up
            base, swept = [], []
            for _ in range(repeat):
                base.append(timed(standalone))
                swept.append(timed(sweep))
        finally:
            agent_client(ws).shutdown()
    b, s = statistics.median(base), statistics.median(swept)
    per_trial = (s - b) / TRIALS
    ok = per_trial <= 0.1
    print(f"1. {TRIALS} trials of a trivial script, {CONCURRENCY} at a time: sweep vs the same runs submitted "
          f"standalone (median of {repeat})")
    print(f"   standalone {b:.2f} s, sweep {s:.2f} s -> ratio {s / b:.2f}x, per-trial overhead "
          f"{per_trial * 1000:.0f} ms (target <= 100 ms: {'PASS' if ok else 'FAIL'})")
    return ok


def bench_sampler(n_history: int = 100, n: int = 10) -> None:
    space = BayesianParameterSampling({"--lr": uniform(0.001, 0.1), "--layers": quniform(1, 8, 1),
                                       "--act": choice("relu", "tanh")}).to_json()
    rng = random.Random(0)
    history = [({"--lr": rng.uniform(0.001, 0.1), "--layers": rng.randint(1, 8), "--act": rng.choice(["relu", "tanh"])},
                rng.random()) for _ in range(n_history)]
    suggest(space, seed=0, index=n_history, goal="maximize", history=history)  # imports optuna
    t = time.perf_counter()
    for i in range(n):
        suggest(space, seed=i, index=n_history + i, goal="maximize", history=history)
    bayes = (time.perf_counter() - t) / n
    random_space = RandomParameterSampling({"--lr": uniform(0.001, 0.1)}).to_json()
    t = time.perf_counter()
    for i in range(1000):
        suggest(random_space, seed=0, index=i, goal="maximize")
    rand = (time.perf_counter() - t) / 1000
    print(f"2. Bayesian (TPE) suggestion with {n_history} past trials: {bayes * 1000:.0f} ms each "
          f"(random sampling: {rand * 1e6:.0f} µs -> ratio {bayes / rand:.0f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ok = bench_trials(args.repeat)
    bench_sampler()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
