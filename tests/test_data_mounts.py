"""Mounted inputs are read-only views: nothing a script does reaches registered data (issue 11,
item 1). The run tests submit real scripts through ``Experiment.submit`` (real agent); the
others exercise the copy itself. These tests run as root here, where file modes stop nothing:
the guarantee is that the script only ever holds its own copy."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from conftest import wait_for
from scriptrun import Dataset, Datastore, Experiment, ScriptRunConfig, Workspace
from scriptrun.data.materialize import INPUTS_DIR, release_inputs
from scriptrun.data.mounts import read_only_view, remove_view

pytestmark = pytest.mark.slow  # real runs (a few of the checks are fast)

VANDAL = """
import os, sys
target = sys.argv[1]
folder = target if os.path.isdir(target) else os.path.dirname(target)
a = target if os.path.isfile(target) else os.path.join(target, "a.txt")
def attempt(what, action):
    try:
        action()
        print("DID", what)
    except OSError as exc:
        print("REFUSED", what, type(exc).__name__)
def overwrite():
    with open(a, "r+") as fh:  # in place: the same inode, as a hard link would share it
        fh.write("XXXX")
def truncate():
    with open(a, "w") as fh:
        fh.write("overwritten")
def add():
    with open(os.path.join(folder, "new.txt"), "w") as fh:
        fh.write("new")
attempt("overwrite", overwrite)
attempt("truncate", truncate)
attempt("add", add)
attempt("remove", lambda: os.remove(a))
print("SEES", sorted(os.listdir(folder)))
"""


def _log_text(run) -> str:
    return "".join(Path(p).read_text() for p in run.get_details()["logFiles"].values())


def test_mount_cannot_change_registered_data(own_ws: Workspace, project, tmp_path: Path) -> None:
    """The issue's repro: upload a folder with a.txt to `data`, register it, mount it, and let the
    script overwrite, truncate, add and remove; version 1 of the dataset is intact."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("original contents")
    store = Datastore.get_default(own_ws)
    store.upload(str(raw), target_path="data", show_progress=False)
    ds = Dataset.File.from_files(path=(store, "data")).register(own_ws, "x")
    src = ScriptRunConfig(str(project(train=VANDAL)), "train.py", arguments=[ds.as_named_input("x").as_mount()])
    run = Experiment(own_ws, "mounts").submit(src)
    run.wait_for_completion(raise_on_error=True)
    text = _log_text(run)
    assert "SEES [" in text  # the script ran to the end
    if os.geteuid() == 0:  # root ignores file modes: every write succeeded, on the run's own copy
        assert "DID remove" in text and "SEES ['new.txt']" in text
    store_dir = Path(store.url) / "data"
    assert sorted(p.name for p in store_dir.iterdir()) == ["a.txt"]
    assert (store_dir / "a.txt").read_text() == "original contents"
    v1 = Dataset.get_by_name(own_ws, "x", version=1)
    assert v1.to_path() == ["/a.txt"]
    assert v1.fingerprint == ds.fingerprint
    again = Dataset.File.from_files(path=(store, "data")).register(own_ws, "x", create_new_version=True)
    assert again.version == 1  # same data: registering again finds nothing new
    record = json.loads((own_ws.run_dir(run.id) / "datasets.json").read_text())["inputs"]["x"]
    assert record["copy"]["source"] == str(store_dir) and record["copy"]["files"] == 1
    assert record["value"].startswith(str(own_ws.run_dir(run.id)))


def test_single_file_mount_and_path_on_compute(own_ws: Workspace, project, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("original contents")
    store = Datastore.get_default(own_ws)
    store.upload(str(raw), target_path="single", show_progress=False)
    ds = Dataset.File.from_files(path=(store, "single/a.txt")).register(own_ws, "one")
    folder = Dataset.File.from_files(path=(store, "single")).register(own_ws, "folder")
    script = VANDAL + "print('LINKED', sorted(os.listdir('inputs/here')))\n"
    src = ScriptRunConfig(str(project(train=script)), "train.py",
                          arguments=[ds.as_named_input("one").as_mount(),
                                     folder.as_named_input("folder").as_mount(path_on_compute="inputs/here")])
    run = Experiment(own_ws, "mounts").submit(src)
    run.wait_for_completion(raise_on_error=True)
    text = _log_text(run)
    assert "SEES [" in text and "LINKED ['a.txt']" in text
    assert sorted(p.name for p in (Path(store.url) / "single").iterdir()) == ["a.txt"]
    assert (Path(store.url) / "single" / "a.txt").read_text() == "original contents"


def test_read_only_view_is_a_separate_read_only_copy(tmp_path: Path) -> None:
    source = tmp_path / "store"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "sub" / "b.bin").write_bytes(os.urandom(3 << 20))
    (source / "empty").mkdir()
    os.utime(source / "a.txt", (1_000_000, 1_000_000))
    view = tmp_path / "run" / "view"
    stats = read_only_view(source, view)
    assert (stats.files, stats.bytes) == (2, 1 + (3 << 20))
    assert stats.method in {"reflink", "copy", "reflink+copy"}
    assert (view / "sub" / "b.bin").read_bytes() == (source / "sub" / "b.bin").read_bytes()
    assert (view / "empty").is_dir()
    assert (view / "a.txt").stat().st_mtime == 1_000_000
    for path in [view / "a.txt", view / "sub" / "b.bin"]:
        assert path.stat().st_ino != (source / path.relative_to(view)).stat().st_ino  # not a hard link
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    for folder in [view, view / "sub", view / "empty"]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    with open(view / "a.txt", "r+") as fh:  # root may write anyway (this machine runs tests as root)…
        if os.geteuid() == 0:
            fh.write("Z")
    assert (source / "a.txt").read_text() == "a"  # …but only to its own copy
    again = read_only_view(source, view)  # replacing an existing (read-only) view works
    assert again.files == 2 and (view / "a.txt").read_text() == "a"
    remove_view(view)
    assert not view.exists() and (source / "a.txt").is_file()


def test_release_inputs_removes_the_copies(tmp_path: Path) -> None:
    source = tmp_path / "store"
    source.mkdir()
    (source / "a.txt").write_text("a")
    run_dir = tmp_path / "run"
    read_only_view(source, run_dir / INPUTS_DIR / "x")
    release_inputs(run_dir)
    assert not (run_dir / INPUTS_DIR).exists() and (source / "a.txt").read_text() == "a"
    release_inputs(run_dir)  # nothing left: fine


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
def test_non_root_script_gets_v1s_read_only_error(tmp_path: Path) -> None:
    source = tmp_path / "store"
    source.mkdir()
    (source / "a.txt").write_text("a")
    view = tmp_path / "view"
    read_only_view(source, view)
    with pytest.raises(PermissionError):
        (view / "a.txt").write_text("b")
    with pytest.raises(PermissionError):
        os.remove(view / "a.txt")
    remove_view(view)
    assert not view.exists()


def test_mount_copy_is_deleted_when_the_run_ends(own_ws: Workspace, project, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("a")
    store = Datastore.get_default(own_ws)
    store.upload(str(raw), target_path="cleanup", show_progress=False)
    ds = Dataset.File.from_files(path=(store, "cleanup")).register(own_ws, "cleanup")
    script = "import os, sys\nprint('SEES', os.listdir(sys.argv[1]))\n"
    run = Experiment(own_ws, "mounts").submit(
        ScriptRunConfig(str(project(train=script)), "train.py", arguments=[ds.as_named_input("x").as_mount()]))
    run.wait_for_completion(raise_on_error=True)
    assert "SEES ['a.txt']" in _log_text(run)
    wait_for(lambda: not (own_ws.run_dir(run.id) / INPUTS_DIR).exists(), timeout=5)
    assert (Path(store.url) / "cleanup" / "a.txt").read_text() == "a"
