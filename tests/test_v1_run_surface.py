"""v1's Run surface (issues 10 and 11): details with logs, all logs, the environment, the
snapshot as a ZIP, children created inside a job, input datasets as Dataset objects; and
v1 names around it: ``TabularDataset.take``, dataset names with spaces, docker fields."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from scriptrun import Dataset, Environment, Experiment, ScriptRunConfig, Workspace
from scriptrun.data.dataset import FileDataset, TabularDataset
from scriptrun.errors import RunError, WorkspaceError

TRAIN = """
    import os, sys
    from scriptrun import Run
    run = Run.get_context()
    print("hello from the job", flush=True)
    os.makedirs("logs", exist_ok=True)
    open("logs/mine.txt", "w").write("script log\\n")
    print("sees", sorted(os.listdir(sys.argv[1])))
    children = run.create_children(count=2)
    for i, child in enumerate(children):
        child.log("part", i)
        child.complete()
    tagged = run.create_children(tag_key="fold", tag_values=["a", "b", "c"])
    for child in tagged:
        child.complete()
"""


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, shared_ws: Workspace):
    """One run, shared by the tests below: a mounted input registered under a name with spaces,
    an environment with variables, children created inside the job."""
    base = tmp_path_factory.mktemp("surface")
    data = base / "data"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    (data / "b.csv").write_text("x\n2\n")
    store = shared_ws.get_default_datastore()
    store.upload(str(data), target_path="surface-data", overwrite=True)
    ds = Dataset.File.from_files(path=(store, "surface-data")).register(
        shared_ws, "surface data files", create_new_version=True)
    source = base / "src"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(TRAIN))
    env = Environment("surface-env")
    env.environment_variables = {"SURFACE": "1"}
    src = ScriptRunConfig(str(source), "train.py", arguments=[ds.as_named_input("files").as_mount()],
                          environment=env)
    run = Experiment(shared_ws, "v1-surface").submit(src)
    run.wait_for_completion()
    return run, ds, source


@pytest.mark.slow
def test_input_datasets_are_dataset_objects(finished):
    run, ds, _ = finished
    entry = run.get_details()["inputDatasets"][0]
    dataset = entry["dataset"]
    assert isinstance(dataset, FileDataset)
    assert (dataset.name, dataset.version) == ("surface data files", ds.version)
    assert sorted(dataset.to_path()) == ["/a.csv", "/b.csv"]
    assert entry["consumptionDetails"]["inputName"] == "files"


@pytest.mark.slow
def test_details_with_logs_and_all_logs(finished, tmp_path):
    run, _, _ = finished
    logs = run.get_details_with_logs()["logFiles"]
    assert "hello from the job" in logs["user_logs/std_log.txt"]
    assert "sees ['a.csv', 'b.csv']" in logs["user_logs/std_log.txt"]
    paths = run.get_all_logs(destination=tmp_path / "logs")
    names = {Path(p).relative_to(tmp_path / "logs").as_posix() for p in paths}
    assert {"user_logs/std_log.txt", "logs/mine.txt"} <= names
    assert (tmp_path / "logs" / "logs" / "mine.txt").read_text() == "script log\n"


@pytest.mark.slow
def test_get_environment_is_the_one_submitted(finished):
    run, _, _ = finished
    env = run.get_environment()
    assert isinstance(env, Environment)
    assert env.name == "surface-env" and env.environment_variables == {"SURFACE": "1"}


@pytest.mark.slow
def test_restore_snapshot_writes_a_zip_of_the_source(finished, tmp_path, monkeypatch):
    run, _, source = finished
    monkeypatch.chdir(tmp_path)
    path = Path(run.restore_snapshot())
    assert path.parent == tmp_path and path.name == f"{run.get_snapshot_id()}.zip"
    with zipfile.ZipFile(path) as archive:
        assert archive.read("train.py").decode() == (source / "train.py").read_text()
    assert run.restore_snapshot(path=str(tmp_path / "named.zip")) == str(tmp_path / "named.zip")


@pytest.mark.slow
def test_create_children_inside_a_job(finished):
    run, _, _ = finished
    children = list(run.get_children())
    numbered = sorted(c.get_tags().get("azureml.batch_child_number") for c in children
                      if "azureml.batch_child_number" in c.tags)
    assert numbered == ["0", "1"]
    assert sorted(c.tags["fold"] for c in children if "fold" in c.tags) == ["a", "b", "c"]
    assert all(c.get_status() == "Completed" for c in children)
    assert sorted(c.get_metrics().get("part") for c in children if "azureml.batch_child_number" in c.tags) == [0, 1]


def test_create_children_arguments_are_checked(shared_ws):
    run = Experiment(shared_ws, "v1-surface").start_logging(outputs=False, snapshot_directory=None)
    try:
        for kwargs in ({}, {"count": 2, "tag_key": "k", "tag_values": ["a"]}, {"tag_key": "k"},
                       {"count": 0}, {"count": 101}):
            with pytest.raises(RunError):
                run.create_children(**kwargs)
    finally:
        run.complete()


def test_tabular_take(tmp_path):
    pytest.importorskip("pandas")
    for i in range(3):
        (tmp_path / f"part{i}.csv").write_text("x,y\n" + "".join(f"{i * 10 + r},{r}\n" for r in range(4)))
    table = Dataset.Tabular.from_delimited_files(path=str(tmp_path / "*.csv"))
    first = table.take(6)
    assert isinstance(first, TabularDataset)
    assert first.to_pandas_dataframe()["x"].tolist() == [0, 1, 2, 3, 10, 11]
    assert table.take(6).take(2).to_pandas_dataframe()["x"].tolist() == [0, 1]
    assert list(table.take(0).to_pandas_dataframe().columns) == ["x", "y"]
    assert len(table.to_pandas_dataframe()) == 12  # the original is unchanged
    ws = Workspace.create(tmp_path / "ws")
    registered = first.register(ws, "first six")
    assert len(Dataset.get_by_name(ws, "first six").to_pandas_dataframe()) == 6 == len(registered.to_pandas_dataframe())


def test_dataset_names_with_spaces(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    (tmp_path / "f.txt").write_text("1")
    ds = Dataset.File.from_files(path=str(tmp_path / "f.txt")).register(ws, "Titanic passengers v2")
    assert Dataset.get_by_name(ws, "Titanic passengers v2").version == ds.version == 1
    assert Dataset.get_by_id(ws, "Titanic passengers v2:1").name == "Titanic passengers v2"
    assert "Titanic passengers v2" in ws.datasets
    for bad in (" leading", "trailing ", "a/b"):
        with pytest.raises(WorkspaceError, match="invalid datasets name"):
            Dataset.File.from_files(path=str(tmp_path / "f.txt")).register(ws, bad)
    with pytest.raises(WorkspaceError, match="invalid environments name"):
        Environment("with space").register(ws)
    shown = subprocess.run([sys.executable, "-m", "scriptrun", "dataset", "show", "Titanic passengers v2",
                            "--workspace", str(tmp_path / "ws")], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "Titanic passengers v2" in shown.stdout


def test_docker_fields_are_accepted_and_change_nothing(tmp_path):
    env = Environment("docker-fields")
    before = env._to_spec()
    env.docker.base_image_registry.address = "myregistry.azurecr.io"
    env.docker.base_image_registry.username = "user"
    env.docker.base_image_registry.password = "pw"
    env.docker.platform.os = "Linux"
    env.docker.build_context = None
    env.docker.gpu_support = True
    assert env._to_spec() == before
    assert "pw" not in json.dumps(env._spec_data())
