"""The docs and the error codes agree: every code has its troubleshooting page and every page its
code; every error ends with its page's path (in Python and in the CLI); the generated references
cover the live schema and CLI; every page is in the site's navigation; RunConfiguration stays out
of the tutorials. (``mkdocs build --strict`` itself runs in scripts/test.sh.)"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import scriptrun
from scriptrun import errors
from scriptrun.errors import (
    DOCS_TROUBLESHOOTING,
    TROUBLESHOOTING,
    ConfigError,
    DataError,
    EnvironmentBuildError,
    Problem,
    ScriptrunError,
    SubmitError,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = ROOT / DOCS_TROUBLESHOOTING
CODE_LINE = re.compile(r"^\*\*Code:\*\* `(SR-[A-Z0-9-]+)`", re.M)


def _hook():
    spec = importlib.util.spec_from_file_location("docs_hook", DOCS / "hooks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _all_error_classes() -> list[type[ScriptrunError]]:
    import scriptrun.compute.targets  # noqa: F401 - defines ComputeTargetException

    found, todo = [], [ScriptrunError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def test_every_code_has_its_page_and_every_page_its_code():
    pages = {p.stem for p in PAGES.glob("*.md") if p.stem != "index"}
    assert set(TROUBLESHOOTING.values()) == pages, (
        f"pages without a code: {sorted(pages - set(TROUBLESHOOTING.values()))}; "
        f"codes without a page: {sorted(set(TROUBLESHOOTING.values()) - pages)}")
    assert len(set(TROUBLESHOOTING.values())) == len(TROUBLESHOOTING), "two codes share a page"
    for code, page in TROUBLESHOOTING.items():
        text = (PAGES / f"{page}.md").read_text()
        assert CODE_LINE.findall(text) == [code], f"{page}.md must start its body with **Code:** `{code}`"
        for section in ("## Symptom", "## Cause", "## Fix"):
            assert section in text, f"{page}.md has no {section!r} section"
        assert "```" in text, f"{page}.md must quote the message users see"


def test_every_error_class_and_raise_site_code_is_known():
    for cls in _all_error_classes():
        assert cls.code in TROUBLESHOOTING, f"{cls.__name__}.code = {cls.code!r} has no page"
    used = set()
    for path in (ROOT / "src" / "scriptrun").rglob("*.py"):
        used |= set(re.findall(r"[\"'](SR-[A-Z0-9-]+)[\"']", path.read_text()))
    assert used, "no codes found in the source"
    assert used <= set(TROUBLESHOOTING), f"codes without a page: {sorted(used - set(TROUBLESHOOTING))}"


def test_an_error_ends_with_its_guide_and_keeps_its_code_when_reworded():
    exc = EnvironmentBuildError("pip install failed (exit code 1)")
    assert exc.code == "SR-ENV-BUILD" and exc.message == "pip install failed (exit code 1)"
    last = str(exc).splitlines()[-1]
    assert last == "[SR-ENV-BUILD] see docs/troubleshooting/environment-build-failed.md"
    assert (ROOT / last.split(" see ")[1]).is_file()
    assert exc.headline == "pip install failed (exit code 1)"

    specific = SubmitError("cannot reach the Ray cluster", code="SR-RAY-UNREACHABLE")
    again = DataError(str(specific))  # re-raised from the text (as the agent's answer is): same code, one line
    assert again.code == "SR-RAY-UNREACHABLE" and str(again).count(" see docs/") == 1
    problem = Problem("compute_target", str(specific))
    assert problem.code == "SR-RAY-UNREACHABLE" and "see docs/" not in problem.message
    config = ConfigError([Problem("node_count", "bad"), problem])
    assert config.code == "SR-RAY-UNREACHABLE" and str(config).endswith("ray-cluster-unreachable.md")
    assert ConfigError("plain").code == "SR-CONFIG"
    assert errors.split_see_also(errors.with_see_also("sweep failed", "SR-SWEEP-METRIC")) == (
        "sweep failed", "SR-SWEEP-METRIC")


def test_the_cli_prints_the_code_and_guide(tmp_path):
    job = tmp_path / "job.yml"
    job.write_text("source_directory: .\nscript: train.py\nnode_count: 1\nnode_count: 2\n")
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "scriptrun", "validate", str(job)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.rstrip().splitlines()[-1].strip() == "[SR-YAML] see docs/troubleshooting/yaml-error.md"


def test_generated_references_cover_the_live_schema_and_cli():
    hook = _hook()
    from scriptrun.spec import JobSpec

    reference = hook.yaml_reference()
    for field in JobSpec.model_json_schema()["properties"]:
        assert f"| `{field}` |" in reference, f"YAML reference misses {field}"
    cli = hook.cli_reference()
    for command in ("scriptrun run submit-script", "scriptrun validate", "scriptrun schema",
                    "scriptrun pipeline why", "scriptrun sweep show", "scriptrun agent stop"):
        assert f"`{command}`" in cli, f"CLI reference misses {command}"
    api = hook.api_reference()
    for name in ("ScriptRunConfig", "Environment", "Dataset", "Run", "Experiment", "Workspace", "Pipeline",
                 "PythonScriptStep", "HyperDriveConfig", "RunConfiguration"):
        assert f".{name}\n" in api, f"API reference misses {name}"
    assert "RunConfiguration" not in reference + cli, "RunConfiguration belongs in the migration guide only"
    index = hook.troubleshooting_index()
    assert all(f"`{code}`" in index for code in TROUBLESHOOTING)


def _nav_files(node) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return set().union(*(_nav_files(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_nav_files(v) for v in node))
    return set()


def test_every_page_is_in_the_navigation():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = _nav_files(config["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "hooks" not in p.parts}
    assert not pages - nav, f"add these pages to the nav in mkdocs.yml: {sorted(pages - nav)}"
    generated = {"reference/yaml.md", "reference/cli.md", "reference/api.md", "troubleshooting/index.md"}
    assert not nav - pages - generated, f"nav entries without a page: {sorted(nav - pages - generated)}"


def test_run_configuration_only_in_the_migration_guide():
    allowed = {"migrating-from-azureml-v1.md", "v1-module-paths.md"}
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        if page.name not in allowed:
            assert "RunConfiguration" not in page.read_text(), f"{page.relative_to(ROOT)} mentions RunConfiguration"


@pytest.mark.parametrize("name", ["ScriptRunConfig", "Environment", "Dataset", "Run", "Experiment", "Workspace",
                                  "Pipeline", "PythonScriptStep", "HyperDriveConfig"])
def test_public_api_has_docstrings(name):
    obj = getattr(scriptrun, name)
    assert (obj.__doc__ or "").strip(), f"{name} has no docstring for the API reference"

