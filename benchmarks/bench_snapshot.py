"""Working-copy cost of a resubmit, as a ratio against ``cp -r`` of the same folder, same run.

For source folders of 10, 100, 1,000 and 10,000 small files and one of 200 MB, after a first
submission has stored the snapshot (the resubmit case: nothing changed):

1. End to end through the warm agent: submit-to-completion of a trivial script minus the same
   with a one-file folder = the overhead the folder adds to a run. Baseline: ``cp -r`` of the
   folder (median of the same repeats).
2. The parts, in-process: ``take_snapshot`` (walk + hash or stat cache), ``make_workdir``
   (working copy) and ``release_workdir`` (integrity check + removal).

Targets (issue 14): unchanged 10k-file resubmit overhead <= 0.1x ``cp -r``; 200 MB resubmit
overhead <= 30 ms; growth from 10 to 10,000 files sub-linear in the ``cp -r`` ratio.

Source files get an mtime an hour ago (code not edited in the last second, the normal resubmit;
a file modified within a second of a snapshot is re-hashed by the next one, by design).

Run: ``.venv/bin/python benchmarks/bench_snapshot.py [--repeat N] [--sizes 10,100,1000,10000]``.
Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scriptrun import Experiment, ScriptRunConfig, Workspace
from scriptrun.compute import local
from scriptrun.runs.run import agent_client
from scriptrun.workspace.snapshot import take_snapshot

TRIVIAL = "print('hello')\n"
BIG_FILES = 20  # the 200 MB folder: 20 files of 10 MB


def make_folder(folder: Path, n_files: int, big: bool = False) -> None:
    folder.mkdir(parents=True)
    (folder / "train.py").write_text(TRIVIAL)
    if big:
        for i in range(BIG_FILES):
            (folder / f"data_{i}.bin").write_bytes(os.urandom(10 << 20))
    else:
        for i in range(n_files - 1):
            sub = folder / f"pkg_{i // 100}"
            sub.mkdir(exist_ok=True)
            (sub / f"mod_{i}.py").write_text(f"VALUE = {i}\n" + "# padding\n" * 100)
    past = time.time() - 3600
    for path in folder.rglob("*"):
        os.utime(path, (past, past))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cp_r(folder: Path, scratch: Path) -> float:
    target = scratch / "cp"
    elapsed = timed(lambda: subprocess.run(["cp", "-r", str(folder), str(target)], check=True))
    shutil.rmtree(target)
    return elapsed


def end_to_end(ws: Workspace, folder: Path) -> float:
    src = ScriptRunConfig(str(folder), "train.py")
    exp = Experiment(ws, "bench-snapshot")
    return timed(lambda: exp.submit(src).wait_for_completion(raise_on_error=True))


def parts(ws: Workspace, folder: Path, scratch: Path) -> tuple[float, float, float]:
    work = scratch / "work"
    t = time.perf_counter()
    snap = take_snapshot(ws, folder)
    t_snap = time.perf_counter() - t
    t_make = timed(lambda: local.make_workdir(ws, snap.id, work))
    release = getattr(local, "remove_workdir", None)
    t_release = timed(lambda: release(ws, snap.id, work) if release else shutil.rmtree(work))
    return t_snap, t_make, t_release


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="10,100,1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ok = True
    with tempfile.TemporaryDirectory(prefix="scriptrun-bench-snap-") as tmp:
        root = Path(tmp)
        scratch = root / "scratch"
        scratch.mkdir()
        ws = Workspace.create(root)
        folders = {"1 file": (root / "f1", 1, False)}
        folders.update({f"{n} files": (root / f"f{n}", n, False) for n in sizes})
        folders["200 MB"] = (root / "f200mb", BIG_FILES + 1, True)
        for folder, n, big in folders.values():
            make_folder(folder, n, big)
        try:
            for folder, _, _ in folders.values():  # first submissions: store every snapshot once
                end_to_end(ws, folder)
                parts(ws, folder, scratch)
            med: dict[str, dict[str, float]] = {}
            for _ in range(args.repeat):  # interleaved, so drift hits every folder alike
                for name, (folder, _, _) in folders.items():
                    m = med.setdefault(name, {"e2e": [], "cp": [], "snap": [], "make": [], "release": []})
                    m["e2e"].append(end_to_end(ws, folder))
                    m["cp"].append(cp_r(folder, scratch))
                    for key, value in zip(("snap", "make", "release"), parts(ws, folder, scratch), strict=True):
                        m[key].append(value)
            med = {name: {k: statistics.median(v) for k, v in m.items()} for name, m in med.items()}
            base = med["1 file"]["e2e"]
            print(f"resubmit of an unchanged folder, medians of {args.repeat} (ms); "
                  f"overhead = run time minus the 1-file run ({base * 1000:.0f} ms)")
            print(f"{'folder':>12} {'cp -r':>8} {'overhead':>9} {'ratio':>7} | {'snapshot':>9} {'workdir':>8} "
                  f"{'release':>8} {'parts/cp':>8}")
            for name, m in med.items():
                if name == "1 file":
                    continue
                over = m["e2e"] - base
                part_sum = m["snap"] + m["make"] + m["release"]
                print(f"{name:>12} {m['cp'] * 1000:8.1f} {over * 1000:9.1f} {over / m['cp']:6.2f}x | "
                      f"{m['snap'] * 1000:9.1f} {m['make'] * 1000:8.1f} {m['release'] * 1000:8.1f} "
                      f"{part_sum / m['cp']:7.2f}x")
            if "10000 files" in med:
                m = med["10000 files"]
                ratio = max(m["e2e"] - base, m["snap"] + m["make"] + m["release"]) / m["cp"]
                hit = ratio <= 0.1
                ok = ok and hit
                print(f"10k files: max(overhead, parts) / cp -r = {ratio:.3f}x (target <= 0.1x: "
                      f"{'PASS' if hit else 'FAIL'})")
            m = med["200 MB"]
            over = max(m["e2e"] - base, m["snap"] + m["make"] + m["release"])
            hit = over <= 0.030
            ok = ok and hit
            print(f"200 MB: max(overhead, parts) = {over * 1000:.1f} ms (target <= 30 ms: {'PASS' if hit else 'FAIL'})")
            small = [n for n in sizes if f"{n} files" in med]
            if len(small) >= 2:
                lo, hi = med[f"{small[0]} files"], med[f"{small[-1]} files"]
                growth = (hi["snap"] + hi["make"] + hi["release"]) / (lo["snap"] + lo["make"] + lo["release"])
                print(f"growth {small[0]} -> {small[-1]} files ({small[-1] // small[0]}x files): parts "
                      f"{growth:.0f}x, cp -r {hi['cp'] / lo['cp']:.0f}x")
        finally:
            agent_client(ws).shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
