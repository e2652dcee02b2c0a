"""``scriptrun migrate``: the codemod's rewrites and notes, notebooks, unparseable code left
alone, the CLI modes, and (slow) a folder of v1-style programs migrated and run end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scriptrun.cli.main import app
from scriptrun.migrate import import_coverage, migrate_notebook, migrate_paths, migrate_source

SAMPLES = Path(__file__).parent / "v1_samples"

V1_CODE = '''\
import azureml.core
from azureml.core import Workspace, Experiment  # a comment stays
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.webservice import AciWebservice
from azureml.train.dnn import Chainer

print(azureml.core.VERSION)
ws = Workspace(subscription_id="s", resource_group="rg", workspace_name="w")
config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2",
                                               max_nodes=4)
est = Chainer("src", compute_target="local")
'''


def test_rewrites_imports_and_references_and_notes_calls():
    result = migrate_source(V1_CODE, "v1.py")
    assert result.new.splitlines()[:3] == ["import scriptrun.core",
                                           "from scriptrun.core import Workspace, Experiment  # a comment stays",
                                           "from scriptrun.core.compute import AmlCompute, ComputeTarget"]
    assert "print(scriptrun.core.VERSION)" in result.new and "azureml" not in result.new.replace("# scriptrun", "")
    assert result.rewrites == 6
    found = [(f.line, f.kind) for f in result.findings]
    assert found == [(4, "unsupported"), (8, "attention"), (9, "attention"), (11, "unsupported")]
    lines = result.new.splitlines()
    provisioning = lines.index('config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2",')
    assert lines[provisioning - 1].startswith("# scriptrun: attention: nothing is provisioned locally")
    assert "# scriptrun: unsupported: scriptrun has no module scriptrun.core.webservice" in result.new
    again = migrate_source(result.new, "v1.py")
    assert again.new == result.new and again.rewrites == 0, "migrating twice changes nothing"


def test_unparseable_code_is_never_changed(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("from azureml.core import Run\ndef broken(:\n")
    report = migrate_paths([tmp_path], write=True)
    assert bad.read_text() == "from azureml.core import Run\ndef broken(:\n"
    assert [f.kind for f in report.findings] == ["error"] and report.findings[0].line == 2


def test_notebook_code_cells_are_migrated_and_magics_kept():
    text = (SAMPLES / "train_in_notebook.ipynb").read_text()
    result = migrate_notebook(text, "nb.ipynb")
    cells = json.loads(result.new)["cells"]
    code = "".join(cells[1]["source"])
    assert code.startswith("%matplotlib inline\nimport scriptrun.core\n")
    assert "from scriptrun.widgets import RunDetails" in code
    assert cells[0] == json.loads(text)["cells"][0], "markdown cells are untouched"
    assert json.loads(result.new)["metadata"] == json.loads(text)["metadata"]


def test_cli_modes(tmp_path: Path):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "a.py").write_text(V1_CODE)
    runner = CliRunner()
    checked = runner.invoke(app, ["migrate", str(folder), "--check"])
    assert checked.exit_code == 1, checked.output
    assert "1 would change" in checked.output and "2 unsupported" in checked.output
    assert f"{folder / 'a.py'}:4: unsupported" in checked.output
    diffed = runner.invoke(app, ["migrate", str(folder), "--diff"])
    assert diffed.exit_code == 0 and "+import scriptrun.core" in diffed.output
    assert (folder / "a.py").read_text() == V1_CODE
    written = runner.invoke(app, ["migrate", str(folder), "--write"])
    assert written.exit_code == 0 and "1 changed" in written.output
    assert (folder / "a.py").read_text().startswith("import scriptrun.core\n")
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "b.py").write_text("from azureml.core import Run\n")
    assert runner.invoke(app, ["migrate", str(clean), "--check"]).exit_code == 0


def test_import_coverage_of_the_samples():
    resolved, total, failures = import_coverage([SAMPLES])
    assert total == 21 and resolved == total, failures


def _notebook_as_script(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return "\n".join(line for block in code for line in block.splitlines() if not line.startswith("%")) + "\n"


@pytest.mark.slow
def test_v1_samples_migrated_run_end_to_end(tmp_path: Path):
    from conftest import stop_agent
    from scriptrun.workspace import Workspace

    project = tmp_path / "samples"
    shutil.copytree(SAMPLES, project)
    ws = Workspace.create(project)
    (ws.dir / "config.yaml").write_text(yaml.safe_dump({"compute_aliases": {"cpu-cluster": "local",
                                                                            "gpu-cluster": "local"}}))
    env = {k: v for k, v in os.environ.items() if k != "SCRIPTRUN_WORKSPACE"}
    migrated = subprocess.run([sys.executable, "-m", "scriptrun", "migrate", str(project), "--write"],
                              capture_output=True, text=True, env=env, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    assert "9 changed" in migrated.stdout and "0 unsupported" in migrated.stdout
    (project / "notebook_as_script.py").write_text(_notebook_as_script(project / "train_in_notebook.ipynb"))
    try:
        for program in ("train_on_local.py", "logging_api.py", "estimator.py", "distributed_pytorch.py",
                        "notebook_as_script.py", "environments.py"):
            done = subprocess.run([sys.executable, program], cwd=project, capture_output=True, text=True,
                                  env=env, timeout=600)
            assert done.returncode == 0, f"{program}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            if program == "estimator.py":
                assert "Found existing compute target" in done.stdout
            if program == "notebook_as_script.py":
                assert "Run " in done.stdout and "final_loss" in done.stdout
    finally:
        stop_agent(ws)
