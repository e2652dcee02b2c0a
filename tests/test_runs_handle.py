"""The ``Run`` handle of a local run: tags, properties and files from the submitter, listing
and rehydrating an experiment's runs, interactive runs, child runs."""

from __future__ import annotations

import pytest

from conftest import submit_script
from scriptrun.config import ScriptRunConfig
from scriptrun.errors import RunError
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run

pytestmark = pytest.mark.slow


def test_tags_properties_and_uploads_from_the_handle(shared_ws, project, tmp_path):
    folder = project(train="print('ok')")
    run = submit_script(shared_ws, folder)
    run.wait_for_completion()
    run.tag("team", "vision")
    run.set_tags({"stage": "dev"})
    assert {"team": "vision", "stage": "dev"}.items() <= run.get_tags().items()
    run.add_properties({"owner": "ana"})
    assert run.get_properties()["owner"] == "ana"
    with pytest.raises(RunError, match="add-only"):
        run.add_properties({"owner": "bob"})
    note = tmp_path / "note.txt"
    note.write_text("hello")
    run.upload_file("extra/note.txt", str(note))
    folder_up = tmp_path / "bundle"
    (folder_up / "sub").mkdir(parents=True)
    (folder_up / "sub" / "a.txt").write_text("a")
    (folder_up / "b.txt").write_text("b")
    run.upload_folder("bundle", str(folder_up))
    names = run.get_file_names()
    assert "extra/note.txt" in names and "bundle/sub/a.txt" in names
    out = tmp_path / "out"
    written = run.download_files(prefix="bundle", output_directory=str(out), batch_size=1)  # a request per file
    assert sorted(written) == [str(out / "bundle" / "b.txt"), str(out / "bundle" / "sub" / "a.txt")]
    assert (out / "bundle" / "sub" / "a.txt").read_text() == "a" and (out / "bundle" / "b.txt").read_text() == "b"
    flat = tmp_path / "flat"
    run.download_files(prefix="bundle/", output_directory=str(flat), append_prefix=False)  # one request
    assert sorted(p.relative_to(flat).as_posix() for p in flat.rglob("*")) == ["b.txt", "sub", "sub/a.txt"]
    with pytest.raises(RunError, match="no file 'missing.txt'"):
        run.download_file("missing.txt", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".scriptrun-download-*"))


def test_experiment_lists_runs_and_rehydrates(shared_ws, project):
    folder = project(train="print('ok')")
    exp = Experiment(shared_ws, "listing")
    run = exp.submit(ScriptRunConfig(str(folder), "train.py"), tags={"kind": "smoke"})
    run.wait_for_completion()
    ids = [r.id for r in exp.get_runs()]
    assert run.id in ids
    assert [r.id for r in exp.get_runs(tags={"kind": "smoke"})] == [run.id]
    again = Run(exp, run.id)
    assert again.get_status() == "Completed" and again.get_tags()["kind"] == "smoke"
    assert Run.get(shared_ws, run.id).experiment.name == "listing"
    with pytest.raises(RunError, match="no run"):
        Run(exp, "does-not-exist")


def test_interactive_run_with_children(shared_ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "model.bin").write_text("m")
    exp = Experiment(shared_ws, "interactive")
    with exp.start_logging() as run:
        run.log("score", 3)
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {"score": 3}
    assert "outputs/model.bin" in run.get_file_names()
    failing = exp.start_logging(outputs=False)
    failing.fail("diverged")
    details = failing.get_details()
    assert details["status"] == "Failed" and details["error"]["message"] == "diverged"


def test_child_runs_know_their_parent(shared_ws, project):
    exp = Experiment(shared_ws, "family")
    folder = project(train="""
        from scriptrun import Run
        Run.get_context().log("child_metric", 7)
    """)
    with exp.start_logging(outputs=False) as parent:
        script_child = parent.submit_child(ScriptRunConfig(str(folder), "train.py"), tags={"kind": "script"})
        script_child.wait_for_completion()
        with parent.child_run("fold1") as fold:
            fold.log("fold_metric", 1)
    assert fold.id == f"{parent.id}_fold1"
    assert {c.id for c in parent.get_children()} == {script_child.id, fold.id}
    assert Run(exp, script_child.id).parent.id == parent.id
    assert parent.get_metrics(recursive=True) == {parent.id: {}, script_child.id: {"child_metric": 7},
                                                  fold.id: {"fold_metric": 1}}
    from mlflow.tracking import MlflowClient

    tags = MlflowClient(shared_ws.tracking_uri).get_run(script_child.get_details()["mlflowRunId"]).data.tags
    assert tags["mlflow.parentRunId"] == parent.get_details()["mlflowRunId"]  # nested in the MLflow UI

