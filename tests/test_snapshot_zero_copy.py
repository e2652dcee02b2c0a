"""Zero-copy working copies: hard links to the snapshot store, a store that a script writing
into its source files cannot corrupt for later runs, and a stat cache so a resubmit hashes nothing."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from conftest import make_workspace, stop_agent
from scriptrun.compute import local
from scriptrun.config import ScriptRunConfig
from scriptrun.errors import SnapshotError
from scriptrun.runs.experiment import Experiment
from scriptrun.workspace import Workspace
from scriptrun.workspace import snapshot as snap
from scriptrun.workspace.snapshot import (
    OBJECT_MTIME_NS,
    materialize,
    release_working_copy,
    take_snapshot,
    written_paths,
)

HOUR_AGO = time.time() - 3600


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "project")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "project" / "src"
    (folder / "pkg").mkdir(parents=True)
    (folder / "train.py").write_text("print('hi')\n")
    (folder / "pkg" / "config.json").write_text('{"lr": 0.1}\n')
    os.chmod(folder / "train.py", 0o755)
    for path in folder.rglob("*"):
        os.utime(path, (HOUR_AGO, HOUR_AGO))  # not edited just now: the stat cache trusts them
    return folder


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files whose content the snapshot code reads to hash (the real function, counted)."""
    seen: list[Path] = []
    real = snap._hash_file

    def counted(path: Path) -> str:
        seen.append(Path(path))
        return real(path)

    monkeypatch.setattr(snap, "_hash_file", counted)
    return seen


def _obj(ws: Workspace, digest: str) -> Path:
    return ws.snapshots_dir / "objects" / digest[:2] / digest[2:]


def test_working_copy_files_are_hard_links_with_their_modes(ws: Workspace, source: Path, tmp_path: Path) -> None:
    snapshot = take_snapshot(ws, source)
    work = materialize(ws, snapshot.id, tmp_path / "work", share=True)
    for rel, (digest, mode) in snapshot.files.items():
        st = os.stat(work / rel)
        assert st.st_ino == os.stat(_obj(ws, digest)).st_ino
        assert stat.S_IMODE(st.st_mode) == mode
        assert st.st_mtime_ns == OBJECT_MTIME_NS
    assert (work / "pkg" / "config.json").read_text() == '{"lr": 0.1}\n'
    private = materialize(ws, snapshot.id, tmp_path / "copy")  # the default (e.g. restore_snapshot)
    assert os.stat(private / "train.py").st_nlink == 1 and _mode_of(private / "train.py") == 0o755


def _mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_file_with_a_looser_mode_than_its_shared_object_is_copied(ws: Workspace, source: Path,
                                                                   tmp_path: Path) -> None:
    (source / "a.txt").write_text("same\n")
    (source / "b.txt").write_text("same\n")
    os.chmod(source / "a.txt", 0o644)
    os.chmod(source / "b.txt", 0o600)
    work = materialize(ws, take_snapshot(ws, source).id, tmp_path / "work", share=True)
    assert _mode_of(work / "a.txt") == 0o644 and os.stat(work / "a.txt").st_nlink == 1
    assert _mode_of(work / "b.txt") == 0o600 and os.stat(work / "b.txt").st_nlink > 1


def test_unchanged_resubmit_hashes_nothing(ws: Workspace, source: Path, hashes: list[Path]) -> None:
    first = take_snapshot(ws, source)
    assert len(hashes) == 2
    hashes.clear()
    assert take_snapshot(ws, source).id == first.id
    assert hashes == []


def test_changed_files_are_hashed_again(ws: Workspace, source: Path, hashes: list[Path]) -> None:
    first = take_snapshot(ws, source)
    config = source / "pkg" / "config.json"
    config.write_text('{"lr": 0.2}\n')  # same size, and the mtime put back: the ctime still moved
    os.utime(config, (HOUR_AGO, HOUR_AGO))
    hashes.clear()
    second = take_snapshot(ws, source)
    assert hashes == [config] and second.id != first.id
    assert _obj(ws, second.files["pkg/config.json"][0]).read_text() == '{"lr": 0.2}\n'


def test_a_file_modified_just_before_a_snapshot_is_hashed_by_the_next(ws: Workspace, source: Path,
                                                                     hashes: list[Path]) -> None:
    (source / "train.py").write_text("print('ho')\n")  # mtime now: within the clock's granularity
    take_snapshot(ws, source)
    hashes.clear()
    take_snapshot(ws, source)
    assert hashes == [source / "train.py"]


def _write_in_place(path: Path, text: str) -> None:
    with open(path, "r+") as fh:  # what a script does with open(..., "w"): same inode
        fh.truncate(0)
        fh.write(text)


def test_a_write_in_place_is_evicted_and_later_runs_see_the_source(ws: Workspace, source: Path,
                                                                   tmp_path: Path) -> None:
    snapshot = take_snapshot(ws, source)
    work = tmp_path / "run1"
    local.make_workdir(ws, snapshot.id, work)
    _write_in_place(work / "pkg" / "config.json", '{"lr": 99}\n')
    assert local.remove_workdir(ws, snapshot.id, work) == ["pkg/config.json"]
    assert not work.exists()
    digest = snapshot.files["pkg/config.json"][0]
    assert not _obj(ws, digest).exists()  # the changed inode left the store with the working copy
    assert written_paths(ws) == {"pkg/config.json"}
    again = take_snapshot(ws, source)  # stores it afresh from the source
    assert again.id == snapshot.id and _obj(ws, digest).read_text() == '{"lr": 0.1}\n'
    work2 = tmp_path / "run2"
    local.make_workdir(ws, again.id, work2)
    assert (work2 / "pkg" / "config.json").read_text() == '{"lr": 0.1}\n'
    assert os.stat(work2 / "pkg" / "config.json").st_nlink == 1  # written once: a private copy from now on
    assert os.stat(work2 / "train.py").st_nlink > 1
    assert local.remove_workdir(ws, again.id, work2) == []


def test_files_already_in_outputs_are_copied(ws: Workspace, source: Path, tmp_path: Path) -> None:
    (source / "outputs").mkdir()
    (source / "outputs" / "model.pt").write_bytes(b"from a local debugging run")
    work = materialize(ws, take_snapshot(ws, source).id, tmp_path / "work", share=True)
    assert os.stat(work / "outputs" / "model.pt").st_nlink == 1  # runs overwrite outputs in place
    assert os.stat(work / "train.py").st_nlink > 1


def test_a_replaced_file_is_not_a_write_in_place(ws: Workspace, source: Path, tmp_path: Path) -> None:
    snapshot = take_snapshot(ws, source)
    work = materialize(ws, snapshot.id, tmp_path / "work", share=True)
    tmp = work / "pkg" / "new.json"
    tmp.write_text("{}\n")
    os.replace(tmp, work / "pkg" / "config.json")  # atomic replace: a new inode, the store is untouched
    (work / "train.py").unlink()
    assert release_working_copy(ws, snapshot.id, work) == []
    assert _obj(ws, snapshot.files["pkg/config.json"][0]).read_text() == '{"lr": 0.1}\n'


def test_a_working_copy_of_a_store_written_in_place_is_refused(ws: Workspace, source: Path,
                                                               tmp_path: Path) -> None:
    snapshot = take_snapshot(ws, source)
    work = materialize(ws, snapshot.id, tmp_path / "run1", share=True)
    _write_in_place(work / "pkg" / "config.json", '{"lr": 99}\n')  # the run has not ended yet
    with pytest.raises(SnapshotError, match="changed by a run that wrote into its working copy"):
        materialize(ws, snapshot.id, tmp_path / "run2", share=True)


def test_objects_of_an_older_store_are_verified_then_linked(ws: Workspace, source: Path, tmp_path: Path) -> None:
    snapshot = take_snapshot(ws, source)
    obj = _obj(ws, snapshot.files["train.py"][0])
    os.utime(obj, (HOUR_AGO, HOUR_AGO))  # objects stored before zero-copy had their copy time
    work = materialize(ws, snapshot.id, tmp_path / "work", share=True)
    assert os.stat(work / "train.py").st_ino == os.stat(obj).st_ino
    assert os.stat(obj).st_mtime_ns == OBJECT_MTIME_NS


def test_working_copy_copy_setting_gives_private_copies(tmp_path: Path, source: Path) -> None:
    ws = make_workspace(tmp_path / "project", working_copy="copy")
    snapshot = take_snapshot(ws, source)
    local.make_workdir(ws, snapshot.id, tmp_path / "work")
    assert os.stat(tmp_path / "work" / "train.py").st_nlink == 1


def test_working_copy_setting_is_checked(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="working_copy"):
        make_workspace(tmp_path / "project", working_copy="overlay")


@pytest.mark.slow
def test_runs_through_the_agent_never_see_an_earlier_run_s_write(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "data.txt").write_text("original\n")
    (folder / "train.py").write_text(
        "import sys\n"
        "assert open('data.txt').read() == 'original\\n', open('data.txt').read()\n"
        "if sys.argv[1:] == ['write']:\n"
        "    open('data.txt', 'a').write('appended by a run\\n')\n")
    exp = Experiment(ws, "zero-copy")
    try:
        exp.submit(ScriptRunConfig(str(folder), "train.py", arguments=["write"])).wait_for_completion()
        for _ in range(2):
            exp.submit(ScriptRunConfig(str(folder), "train.py")).wait_for_completion()
        assert (folder / "data.txt").read_text() == "original\n"
    finally:
        stop_agent(ws)


def test_a_filesystem_without_reflinks_is_tried_once_then_hard_linked(ws: Workspace, source: Path,
                                                                      tmp_path: Path) -> None:
    snapshot = take_snapshot(ws, source)
    devices = (os.stat(ws.snapshots_dir / "objects").st_dev, os.stat(tmp_path).st_dev)
    snap._NO_REFLINK.discard(devices)
    clone = tmp_path / "probe"
    if snap._reflink(str(_obj(ws, snapshot.files["train.py"][0])), str(clone), 0o755):
        pytest.skip("this filesystem has reflinks: working copies are clones")
    assert not clone.exists() and devices in snap._NO_REFLINK
    work = materialize(ws, snapshot.id, tmp_path / "work", share=True)
    assert os.stat(work / "train.py").st_nlink > 1
