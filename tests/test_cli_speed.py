"""What ``import scriptrun`` and the CLI's start-up load, checked in fresh interpreters: every
public name is imported on first use, so neither loads MLflow, Ray or torch, nor builds the
spec's pydantic models, before a command needs them. (Timings are in benchmarks/bench_cli.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import scriptrun

HEAVY = ("mlflow", "ray", "torch", "pandas")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_scriptrun_loads_nothing_heavy():
    modules = loaded_after("import scriptrun")
    assert not {m for m in modules if m.split(".")[0] in (*HEAVY, "pydantic", "yaml")}, modules
    assert {m for m in modules if m.startswith("scriptrun")} == {"scriptrun", "scriptrun.version"}


def test_cli_start_up_loads_no_spec_models_and_no_tracking():
    modules = loaded_after("import scriptrun.cli.main")
    assert not {m for m in modules if m.split(".")[0] in (*HEAVY, "pydantic", "yaml", "rich")}, modules
    assert "scriptrun.spec.job" not in modules and "scriptrun.agent.protocol" not in modules


def test_listing_runs_defines_no_spec_model():
    modules = loaded_after("from scriptrun.runs.run import Run, list_runs")
    assert not {m for m in modules if m.split(".")[0] in HEAVY}, modules
    assert "scriptrun.spec.job" not in modules


def test_a_public_name_loads_only_what_it_needs():
    modules = loaded_after("from scriptrun import Workspace, RunStatus, ConfigError")
    assert not {m for m in modules if m.split(".")[0] in HEAVY}, modules
    assert "scriptrun.spec.job" not in modules and "scriptrun.pipeline" not in modules


def test_every_public_name_resolves_lazily_to_its_defining_object():
    code = ("import scriptrun\nnames = {n: getattr(scriptrun, n) for n in scriptrun.__all__}\n"
            "assert all(v is not None for v in names.values())\n"
            "assert set(dir(scriptrun)) >= set(scriptrun.__all__)")
    loaded_after(code)
    assert scriptrun.Run.__module__ == "scriptrun.runs.run"
    from scriptrun.runs.run import Run

    assert scriptrun.Run is Run
    try:
        scriptrun.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_workspace_asset_views_work_without_importing_the_facade(tmp_path):
    code = (f"from scriptrun.workspace import Workspace\nws = Workspace.create({str(tmp_path)!r})\n"
            "assert 'workspaceblobstore' in ws.datastores\nassert 'local' in ws.compute_targets")
    loaded_after(code)
