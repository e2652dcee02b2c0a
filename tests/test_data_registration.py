"""Datastores and datasets without runs: upload/download, registration versions and
fingerprints, tabular reads, and the bad inputs that must fail clearly and lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriptrun import (
    ConfigError,
    DataError,
    DataPath,
    Dataset,
    Datastore,
    OutputFileDatasetConfig,
    ScriptRunConfig,
    Workspace,
)
from scriptrun.spec.yamlio import job_spec_from_yaml, job_spec_to_yaml


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (folder / "sub" / "b.csv").write_text("x,y\n5,6\n")
    return folder


def test_default_datastore_is_a_workspace_folder(ws: Workspace, data_dir: Path, tmp_path: Path) -> None:
    store = Datastore.get_default(ws)
    assert store.name == "workspaceblobstore" and Path(store.url).is_relative_to(ws.dir)
    store.upload(str(data_dir), target_path="raw", show_progress=False)
    assert (Path(store.url) / "raw" / "sub" / "b.csv").read_text() == "x,y\n5,6\n"
    (data_dir / "a.csv").write_text("changed\n")
    store.upload(str(data_dir), target_path="raw", show_progress=False)  # existing files are kept
    assert (Path(store.url) / "raw" / "a.csv").read_text().startswith("x,y")
    store.upload_files([str(data_dir / "a.csv")], target_path="single", overwrite=True, show_progress=False)
    assert (Path(store.url) / "single" / "a.csv").read_text() == "changed\n"
    assert store.download(tmp_path / "down", prefix="raw", show_progress=False) == 2
    assert (tmp_path / "down" / "raw" / "sub" / "b.csv").is_file()


def test_register_datastore_for_a_folder(ws: Workspace, tmp_path: Path) -> None:
    store = Datastore.register(ws, "shared", tmp_path / "shared-folder")
    assert Path(store.url).is_dir()
    assert set(Datastore.list(ws)) == {"workspaceblobstore", "shared"}
    with pytest.raises(DataError, match="overwrite=True"):
        Datastore.register(ws, "shared", tmp_path / "elsewhere")
    assert Datastore.register(ws, "shared", tmp_path / "elsewhere", overwrite=True).url.endswith("elsewhere")
    from scriptrun.errors import WorkspaceError

    with pytest.raises(WorkspaceError, match="did you mean `shared`"):
        Datastore.get(ws, "sharde")


def test_register_datastore_for_a_url_without_its_fsspec_package(ws: Workspace) -> None:
    try:
        import s3fs  # noqa: F401
    except ImportError:
        with pytest.raises(DataError, match="s3fs"):
            Datastore.register(ws, "bucket", "s3://some-bucket/prefix")
    else:  # pragma: no cover - only where s3fs is installed
        pytest.skip("s3fs is installed")


@pytest.mark.parametrize("path", ["../outside", "a/../../outside", "/../etc"])
def test_path_that_escapes_the_datastore_root(ws: Workspace, path: str) -> None:
    store = Datastore.get_default(ws)
    with pytest.raises(ConfigError) as info:
        store.path(path)
    assert info.value.paths() == ["path_on_datastore"]
    assert "escapes the datastore root" in str(info.value)
    with pytest.raises(ConfigError) as info:
        OutputFileDatasetConfig("model", destination=(store, path))
    assert info.value.paths() == ["outputs.model.destination"]
    with pytest.raises(ConfigError, match="escapes"):
        Dataset.File.from_files((store, path), validate=False)
    with pytest.raises(ConfigError, match="escapes"):
        DataPath(store, path)


def test_escape_in_yaml_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("")
    job = tmp_path / "job.yml"
    job.write_text("script: train.py\noutputs:\n  model:\n    path: ../../etc\n")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig.from_yaml(job).to_job_spec()
    assert info.value.paths() == ["outputs.model.path"]
    assert info.value.problems[0].line == 4


def test_registration_versions_and_fingerprints(ws: Workspace, data_dir: Path) -> None:
    store = Datastore.get_default(ws)
    store.upload(str(data_dir), target_path="raw", show_progress=False)
    first = Dataset.File.from_files((store, "raw")).register(ws, "raw-files")
    assert (first.name, first.version, first.id) == ("raw-files", 1, "raw-files:1")
    assert len(first.fingerprint) == 32
    with pytest.raises(DataError) as info:  # an existing name needs create_new_version
        Dataset.File.from_files((store, "raw")).register(ws, "raw-files")
    assert "'raw-files' is already registered" in str(info.value) and "create_new_version=True" in str(info.value)
    same = Dataset.File.from_files((store, "raw")).register(ws, "raw-files", create_new_version=True)
    assert same.version == 1  # same definition, same data: the existing version
    store.upload_files([str(data_dir / "a.csv")], relative_root=str(data_dir), target_path="raw",
                       overwrite=True, show_progress=False)
    (Path(store.url) / "raw" / "a.csv").write_text("x,y\n9,9\n")  # the data changed
    second = Dataset.File.from_files((store, "raw")).register(ws, "raw-files", create_new_version=True)
    assert second.version == 2 and second.fingerprint != first.fingerprint
    assert Dataset.get_by_name(ws, "raw-files").version == 2
    assert Dataset.get_by_name(ws, "raw-files", version=1).fingerprint == first.fingerprint
    assert Dataset.get_by_id(ws, "raw-files:1").version == 1
    assert sorted(Dataset.get_by_name(ws, "raw-files").to_path()) == ["/a.csv", "/sub/b.csv"]
    assert set(Dataset.get_all(ws)) == {"raw-files"}
    with pytest.raises(DataError, match="did you mean `raw-files`"):
        Dataset.get_by_name(ws, "raw-file")


def test_missing_path_is_a_clear_error(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Dataset.File.from_files(str(tmp_path / "nowhere"))
    assert info.value.paths() == ["path"]
    assert "nowhere does not exist" in str(info.value)
    with pytest.raises(ConfigError) as info:
        Dataset.Tabular.from_delimited_files([str(tmp_path), (Datastore.get_default(ws), "none/*.csv")])
    assert info.value.paths() == ["path[1]"]
    assert "matches no file" in str(info.value)
    assert Dataset.File.from_files(str(tmp_path / "later"), validate=False) is not None


def test_tabular_formats(ws: Workspace, data_dir: Path, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    csv = Dataset.Tabular.from_delimited_files(str(data_dir / "**" / "*.csv"))
    frame = csv.to_pandas_dataframe()
    assert sorted(frame["x"]) == [1, 3, 5]
    pd.DataFrame({"x": [1, 2]}).to_parquet(tmp_path / "t.parquet")
    assert list(Dataset.Tabular.from_parquet_files(str(tmp_path / "t.parquet")).to_pandas_dataframe()["x"]) == [1, 2]
    (tmp_path / "t.jsonl").write_text('{"x": 1}\n{"x": 7}\n')
    jl = Dataset.Tabular.from_json_lines_files(str(tmp_path / "t.jsonl"), include_path=True)
    frame = jl.to_pandas_dataframe()
    assert list(frame["x"]) == [1, 7] and "Path" in frame.columns
    registered = csv.register(ws, "table")
    assert Dataset.get_by_name(ws, "table").to_pandas_dataframe().shape == (3, 2)
    assert registered.version == 1


def test_tabular_dataset_in_mount_mode(ws: Workspace, data_dir: Path) -> None:
    table = Dataset.Tabular.from_delimited_files(str(data_dir / "a.csv"))
    with pytest.raises(ConfigError) as info:
        table.as_mount()
    assert info.value.paths() == ["mode"]
    with pytest.raises(ConfigError) as info:
        table.as_named_input("table").as_mount()
    assert info.value.paths() == ["inputs.table.mode"]
    assert "to_pandas_dataframe" in info.value.problems[0].hint


@pytest.mark.parametrize("name", ["my-data", "1data", "has space", ""])
def test_input_name_that_is_not_an_identifier(ws: Workspace, data_dir: Path, name: str) -> None:
    files = Dataset.File.from_files(str(data_dir))
    with pytest.raises(ConfigError) as info:
        files.as_named_input(name)
    assert info.value.paths() == [f"inputs.{name}"]
    assert "not a valid input name" in str(info.value)
    with pytest.raises(ConfigError) as info:
        OutputFileDatasetConfig(name or "-")
    assert "not a valid output name" in str(info.value)


def test_input_name_in_yaml_names_the_field_and_line(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "train.py").write_text("")
    job = tmp_path / "job.yml"
    job.write_text(f"script: train.py\narguments: ['${{{{inputs.my-data}}}}']\ninputs:\n  my-data:\n"
                   f"    dataset:\n      paths:\n        - url: {data_dir}\n    mode: mount\n")
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig.from_yaml(job).to_job_spec()
    problem = next(p for p in info.value.problems if p.path == "inputs.my-data")
    assert problem.line == 4 and "my_data" in problem.hint


def test_yaml_round_trip_with_data(tmp_path: Path, data_dir: Path, ws: Workspace) -> None:
    (tmp_path / "train.py").write_text("")
    store = Datastore.get_default(ws)
    files = Dataset.File.from_files(str(data_dir)).as_named_input("files").as_download("data")
    out = OutputFileDatasetConfig("model", destination=(store, "m/{run-id}")).as_upload(source_globs=["*.pkl"])
    store.upload(str(data_dir), "ckpt", show_progress=False)
    src = ScriptRunConfig(str(tmp_path), "train.py", arguments=["--in", files, f"--out={out}"], outputs=[out],
                          resume_from=DataPath(store, "ckpt"))
    spec = src.to_job_spec()
    assert spec.arguments == ["--in", "${{inputs.files}}", "--out=${{outputs.model}}"]
    assert spec.inputs["files"].mode == "download" and spec.outputs["model"].source_globs == ["*.pkl"]
    job = tmp_path / "job.yml"
    job_spec_to_yaml(spec, job)
    assert job_spec_from_yaml(job) == spec
    assert ScriptRunConfig.from_yaml(job).to_job_spec() == spec
