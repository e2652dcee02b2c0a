"""The layering of DESIGN.md, kept true: every ``scriptrun`` import (at module top or inside a
function) goes to the same or a lower layer, and no two packages import each other."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import scriptrun

SRC = Path(scriptrun.__file__).parent

# top to bottom; a module may import its own layer's packages and anything below
LAYERS: list[set[str]] = [
    {"cli", "__main__"},
    {"__init__", "core", "train", "widgets", "exceptions", "telemetry", "migrate", "run_details", "assets"},
    {"pipeline", "hyperdrive"},
    {"config"},
    {"runs", "models"},
    {"agent"},
    {"compute"},
    {"environment", "data"},
    {"workspace"},
    {"spec"},
    {"rundir"},
    {"errors", "version", "progress"},
]
RANK = {pkg: rank for rank, layer in enumerate(LAYERS) for pkg in layer}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1] if len(parts) > 2 else [*parts[:-1], "__init__"]
    return ".".join(parts)


def scriptrun_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "scriptrun":  # `from scriptrun import X`: X is a package or a facade name
                for alias in node.names:
                    target = f"scriptrun.{alias.name}"
                    found.append((node.lineno, target if package_of(target) in RANK else "scriptrun"))
            elif node.module.startswith("scriptrun."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("scriptrun.")]
    return found


def test_every_package_has_a_layer():
    packages = {package_of(module_name(p)) for p in SRC.rglob("*.py")}
    assert packages <= set(RANK), f"add these to LAYERS: {sorted(packages - set(RANK))}"


def test_imports_only_go_downward_and_packages_have_no_cycles():
    upward = []
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        source = package_of(module_name(path))
        for line, target in scriptrun_imports(path):
            target_pkg = package_of(target) if target != "scriptrun" else "__init__"
            if target == "scriptrun" and source != "__init__":
                if target_pkg == "__init__" and source not in LAYERS[0] | LAYERS[1]:
                    upward.append(f"{path.relative_to(SRC)}:{line} imports the package facade")
                continue
            if target_pkg != source:
                edges[source].add(target_pkg)
            if RANK[target_pkg] < RANK[source]:
                upward.append(f"{path.relative_to(SRC)}:{line} ({source}) imports {target} ({target_pkg}, a higher layer)")
    assert not upward, "upward imports:\n" + "\n".join(upward)
    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a in edges.get(b, set()) and a < b)
    assert not cycles, f"package cycles: {cycles}"


def test_shim_file_names_match_the_run_folder_layout():
    """The shim runs with ``python -S`` outside the package and keeps its own copies."""
    from scriptrun import rundir
    from scriptrun.compute import shim

    for name in ("LAUNCH_FILE", "SHIM_FILE", "SHIM_LOCK", "EXIT_FILE", "LOGS_DIR"):
        assert getattr(shim, name) == getattr(rundir, name), name
