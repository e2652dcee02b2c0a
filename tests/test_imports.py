"""Imports inside ``scriptrun`` stay honest (issue 7): a ``scriptrun`` import inside a function
is either in the CLI (lazy on purpose, for start-up time) or in the small allow-list below, with
its reason; and no two modules import each other at module level (a function-local import
must not be what hides a cycle)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import scriptrun

SRC = Path(scriptrun.__file__).parent
LAZY_PACKAGES = ("cli/",)  # `scriptrun --help`, `run list`: each command imports what it needs

# (file below src/scriptrun, imported module) -> why the import stays inside the function
ALLOWED: dict[tuple[str, str], str] = {
    # optional heavy dependencies or start-up time
    ("compute/ray_driver.py", "scriptrun.compute.local"): "the Ray driver of a planned job imports only the shim",
    ("compute/ray_driver.py", "scriptrun.compute.launch"): "as above: no spec models in a job's driver",
    ("compute/ray_driver.py", "scriptrun.spec"): "as above (pydantic models, ~150 ms per job)",
    ("environment/environment.py", "scriptrun.spec.yamlio"): "rare (an environment from a file); off the agent's start",
    ("pipeline/pipeline_run.py", "scriptrun.runs.submit"): "a PipelineRun only looked at loads no snapshot code",
    ("pipeline/pipeline_run.py", "scriptrun.data.dataset"): "rare (a step output's download): data and spec models",
    ("pipeline/pipeline_run.py", "scriptrun.spec.job"): "as above",
    ("runs/context.py", "scriptrun.data.dataset"): "rare (direct-mode inputs); every job's Run.get_context() stays light",
    ("runs/context.py", "scriptrun.spec.job"): "as above",
    ("runs/run.py", "scriptrun.environment.environment"): "rare (Run.get_environment); spec models",
    ("runs/run.py", "scriptrun.spec"): "as above",
    ("runs/run.py", "scriptrun.workspace.snapshot"): "rare (Run.restore_snapshot); pathspec",
    ("runs/run.py", "scriptrun.data.dataset"): "rare (a run's datasets); data and spec models",
    ("runs/run.py", "scriptrun.spec.job"): "as above",
    # two classes of the v1 API that make each other: the lower module's method imports the higher
    ("data/consumption.py", "scriptrun.data.dataset"): "Dataset.as_named_input() makes a DatasetConsumptionConfig, "
                                                       "which takes a Dataset (dataset.py imports consumption.py)",
    ("data/datastore.py", "scriptrun.data.datapath"): "Datastore.path() makes a DataReference, which takes a Datastore",
    ("pipeline/pipeline_yaml.py", "scriptrun.pipeline.pipeline"): "Pipeline.from_yaml()/to_yaml()/publish() use "
                                                                  "this module, which builds Pipelines",
    ("runs/run.py", "scriptrun.runs.experiment"): "Run.get() makes the run's Experiment, which lists and starts Runs",
    ("runs/run.py", "scriptrun.runs.context"): "Run.get_context() returns a context run, a Run subclass",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def target(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported(module: str, node: ast.stmt) -> list[str]:
    """The ``scriptrun`` modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "scriptrun"]
    if isinstance(node, ast.ImportFrom):
        base = target(module, node)
        if base.split(".")[0] != "scriptrun":
            return []
        submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
        return [base, *submodules]
    return []


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(module: str) -> set[str]:
    """What importing ``module`` imports at once: its top-level imports (also under ``if``/``try``,
    not under ``if TYPE_CHECKING``), with the packages they sit in (their ``__init__`` runs too)
    except the importer's own packages."""
    out: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and not is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(block)
            for name in imported(module, node):
                parts = name.split(".")
                out.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))

    visit(ast.parse(MODULES[module].read_text()).body)
    own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
    return {m for m in out if m in MODULES and m not in own}


def function_local_imports() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    for module, path in MODULES.items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    for name in imported(module, node)[:1]:
                        rel = path.relative_to(SRC).as_posix()
                        if node.lineno not in found[(rel, name)]:
                            found[(rel, name)].append(node.lineno)
    return found


def test_function_local_scriptrun_imports_are_only_the_allowed_ones():
    found = function_local_imports()
    unexpected = [f"{file}:{lines[0]} imports {name} inside a function"
                  for (file, name), lines in sorted(found.items())
                  if not file.startswith(LAZY_PACKAGES) and (file, name) not in ALLOWED]
    assert not unexpected, ("move these imports to the top of the module (or, for an optional heavy "
                            "dependency or a measured start-up cost, add them to ALLOWED with the reason):\n"
                            + "\n".join(unexpected))
    stale = sorted(key for key in ALLOWED if key not in found)
    assert not stale, f"no longer imported inside a function; drop from ALLOWED: {stale}"


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component or v in graph.get(v, ()):
                cycles.append(sorted([v, *component]))

    for module in sorted(graph):
        if module not in index:
            strongconnect(module)
    return cycles


def test_no_module_level_import_cycles():
    cycles = import_cycles({module: module_level_imports(module) for module in MODULES})
    assert not cycles, "modules that import each other at module level: " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_the_checks_see_what_they_must():
    node = ast.parse("def f():\n    from .dataset import X\n").body[0].body[0]
    assert imported("scriptrun.data.consumption", node) == ["scriptrun.data.dataset"]
    run_data = module_level_imports("scriptrun.config.run_data")
    assert {"scriptrun.data", "scriptrun.data.dataset"} <= run_data  # a package's __init__ runs first
    assert "scriptrun.data" not in module_level_imports("scriptrun.data.materialize")  # its own package
    assert "scriptrun.config.runconfig" not in module_level_imports("scriptrun.config.runconfig_file")  # TYPE_CHECKING
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}) == [["a", "b", "c"], ["e"]]
    assert ("runs/run.py", "scriptrun.runs.context") in function_local_imports()
