"""Built-environment cache: cold build time versus cached resolution, measured in one run.

    .venv/bin/python benchmarks/bench_env_cache.py [--packages six tomli] [--cold-uv-cache] [--repeat 20]

"Cold" builds a new virtualenv for the definition (uv venv + uv pip install with bytecode
compilation); with --cold-uv-cache uv's own download/wheel cache is a fresh folder too, so the
packages come from the index. "Cached" is what every later run with the same definition pays:
hash the resolved definition and find the finished entry. The ratio is the speed-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scriptrun.environment.builder import ensure_environment
from scriptrun.spec import EnvironmentSpec
from scriptrun.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", default=["six", "tomli"])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--cold-uv-cache", action="store_true", help="use an empty uv cache for the cold build")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.cold_uv_cache:
            os.environ["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")
        ws = Workspace.create(Path(tmp) / "ws")
        spec = EnvironmentSpec.model_validate(
            {"name": "bench", "python": {"conda_dependencies": {"pip_packages": args.packages}}})
        log = Path(tmp) / "build.txt"
        start = time.perf_counter()
        cold = ensure_environment(ws, spec, log_file=log, client_python=sys.executable)
        cold_s = time.perf_counter() - start
        assert not cold.cached
        warm = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            again = ensure_environment(ws, spec, log_file=log, client_python=sys.executable)
            warm.append(time.perf_counter() - start)
            assert again.cached and again.path == cold.path
        warm_s = statistics.median(warm)
    print(f"packages: {' '.join(args.packages)}  (uv cache: {'empty' if args.cold_uv_cache else 'as is'})")
    print(f"cold build          : {cold_s * 1000:9.1f} ms")
    print(f"cached resolution   : {warm_s * 1000:9.2f} ms  (median of {args.repeat})")
    print(f"ratio cold / cached : {cold_s / warm_s:9.0f}x")


if __name__ == "__main__":
    main()
