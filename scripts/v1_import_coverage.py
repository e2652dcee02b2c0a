"""Import-line coverage of Azure ML v1 code under the one-sentence rule (azureml → scriptrun).

    python scripts/v1_import_coverage.py tests/v1_samples            # .py/.ipynb files
    python scripts/v1_import_coverage.py --census v1-import-paths.md  # a census table (module | names (count))

For files, every ``azureml`` import line counts once and resolves when its scriptrun module
imports and has every name. For a census table (the public v1 samples' imports, counted per
name), the share is weighted by those counts.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from scriptrun.migrate import _missing, _target, import_coverage


def census(path: Path) -> tuple[int, int, list[str]]:
    resolved = total = 0
    missing: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`azureml"):
            continue
        module = _target(cells[0].strip("`"))
        for name, count in re.findall(r"(`\w+`|\(module\)) \((\d+)\)", cells[1]):
            names = [] if name == "(module)" else [name.strip("`")]
            total += int(count)
            gaps = _missing(module, names)
            if gaps:
                missing.append(f"{', '.join(gaps)} ({count})")
            else:
                resolved += int(count)
    return resolved, total, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--census", type=Path)
    args = parser.parse_args()
    if args.paths:
        resolved, total, failures = import_coverage(args.paths)
        print(f"files: {resolved} of {total} azureml import lines resolve ({100 * resolved / max(total, 1):.0f}%)")
        for failure in failures:
            print("  " + failure)
    if args.census:
        resolved, total, missing = census(args.census)
        print(f"census: {resolved} of {total} counted imports resolve ({100 * resolved / max(total, 1):.0f}%)")
        for gap in missing:
            print("  missing: " + gap)


if __name__ == "__main__":
    main()
