"""CLI start-up benchmarks, each against baselines measured in the same run.

Every figure is the median wall time of a fresh process (bytecode cached, as after an install),
with the workspace's agent warm:

* ``scriptrun --help``                      target <= 60 ms
* ``scriptrun run list`` / ``run show ID``   target <= 80 ms
* ``scriptrun run list --last 1000 -o json`` target <= 0.3 s (with >= 1000 runs in the workspace)
* ``python -c "import scriptrun"``

Baselines: ``python -c pass`` (the interpreter's own start), a minimal typer app's ``--help``
and one command with one option (the floor of any typer CLI on this machine: typer 0.2x
validates parameters with pydantic, so every command imports it), and ``mlflow runs list`` on the same store (what MLflow's own CLI costs).
Absolute targets depend on the machine; the ratios are what to compare between runs.

``--src DIR`` measures another checkout's CLI (e.g. ``git archive <commit> src | tar -x -C
/tmp/before``) against the same warm agent and workspace, for before → after figures.

Run: ``.venv/bin/python benchmarks/bench_cli.py [--runs 1000] [--repeat 9] [--src DIR]``
(under ``flock /tmp/scriptrun-heavy.lock`` on a shared machine). Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scriptrun import Experiment, ScriptRunConfig, Workspace
from scriptrun.agent.protocol import ListRuns
from scriptrun.runs.run import agent_client

TARGETS_MS = {"--help": 60, "run list": 80, "run show": 80, "run list --last 1000 -o json": 300}
MINIMAL_TYPER = textwrap.dedent("""
    import typer
    app = typer.Typer()
    @app.command()
    def hello(name: str = "world"):
        "Say hello."
    app()
""")


def median_ms(argv: list[str], repeat: int, cwd: Path, env: dict[str, str]) -> float:
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)  # warm-up (and bytecode)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def fill(ws: Workspace, folder: Path, runs: int) -> str:
    """A completed script run (for ``run show``), then interactive runs up to ``runs``."""
    run = Experiment(ws, "bench-cli").submit(ScriptRunConfig(str(folder), "trivial.py"))
    run.wait_for_completion()
    have = len(agent_client(ws).request(ListRuns()))

    def one(_: int) -> None:
        Experiment(ws, "bench-cli-many").start_logging(outputs=False).complete()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(max(0, runs - have))))
    return run.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--src", type=Path, default=None, help="Measure the CLI of this source tree instead.")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src.resolve())
    legacy = args.src is not None and not (args.src / "scriptrun" / "cli" / "common.py").exists()
    py = sys.executable
    scriptrun = [py, "-m", "scriptrun"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        (root / "src" / "trivial.py").write_text("print('hello')\n")
        (root / "typer_min.py").write_text(MINIMAL_TYPER)
        ws = Workspace.create(root)
        try:
            t = time.perf_counter()
            run_id = fill(ws, root / "src", args.runs)
            print(f"workspace with {args.runs} runs ready in {time.perf_counter() - t:.1f} s")
            json_flag = ["--json"] if legacy else ["-o", "json"]
            figures = {
                "python -c pass": median_ms([py, "-c", "pass"], args.repeat, root, env),
                # as scriptrun prints it when not on a terminal: plain, without rich
                "minimal typer --help": median_ms([py, str(root / "typer_min.py"), "--help"], args.repeat, root,
                                                  {**env, "TYPER_USE_RICH": "0"}),
                "minimal typer command": median_ms([py, str(root / "typer_min.py"), "--name", "x"], args.repeat,
                                                   root, env),
                "import scriptrun": median_ms([py, "-c", "import scriptrun"], args.repeat, root, env),
                "--help": median_ms([*scriptrun, "--help"], args.repeat, root, env),
                "run list": median_ms([*scriptrun, "run", "list"], args.repeat, root, env),
                "run show": median_ms([*scriptrun, "run", "show", run_id, *([] if legacy else json_flag)],
                                      args.repeat, root, env),
                "run list --last 1000 -o json": median_ms([*scriptrun, "run", "list", "--last", str(args.runs),
                                                           *json_flag], args.repeat, root, env),
            }
            client, times = agent_client(ws), []
            for _ in range(args.repeat):  # the agent's part of `run list --last N`, in this process
                t = time.perf_counter()
                client.request(ListRuns(limit=args.runs))
                times.append(time.perf_counter() - t)
            figures[f"agent answer ({args.runs} runs)"] = statistics.median(times) * 1000
            import mlflow

            experiment_id = mlflow.MlflowClient(ws.tracking_uri).get_experiment_by_name("bench-cli").experiment_id
            mlflow_env = {**env, "MLFLOW_TRACKING_URI": ws.tracking_uri}
            figures["mlflow runs list"] = median_ms([py, "-m", "mlflow", "runs", "list", "--experiment-id",
                                                     experiment_id], max(3, args.repeat // 3), root, mlflow_env)
        finally:
            agent_client(ws).shutdown()
    base = figures["python -c pass"]
    print(f"\nCLI {'of ' + str(args.src) if args.src else 'of this checkout'} (median of {args.repeat}, "
          f"bytecode cached, warm agent):")
    missed = []
    for name, ms in figures.items():
        target = TARGETS_MS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"target <= {target} ms: {'met' if ms <= target else 'MISSED'}"
            if ms > target:
                missed.append(name)
        print(f"  {name:32s} {ms:8.1f} ms  {ms / base:6.1f}x python -c pass  {verdict}")
    print(f"  run list vs mlflow runs list: {figures['mlflow runs list'] / figures['run list']:.1f}x faster; "
          f"--help vs a minimal typer app: {figures['--help'] / figures['minimal typer --help']:.2f}x")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
