"""Symlinks, path escapes and file modes: nothing outside a folder leaks in, nobody else reads."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scriptrun.errors import RunError, SnapshotError
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run
from scriptrun.workspace import Workspace
from scriptrun.workspace.snapshot import (
    escaping_links,
    load_snapshot,
    materialize,
    remove_escaping_links,
    take_snapshot,
)

pytestmark = pytest.mark.faults


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "project")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "project" / "src"
    (folder / "pkg").mkdir(parents=True)
    (folder / "train.py").write_text("print('hi')\n")
    (folder / "pkg" / "data.csv").write_text("a,b\n1,2\n")
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the job\n")
    return secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# -- symlinks in snapshots --------------------------------------------------------------------


@pytest.mark.parametrize("target", ["file", "absolute", "folder", "chain", "dangling"])
def test_snapshot_refuses_links_escaping_the_source(ws: Workspace, source: Path, outside: Path,
                                                    target: str) -> None:
    link = source / "pkg" / "leak"
    if target == "file":
        link.symlink_to(os.path.relpath(outside, link.parent))
    elif target == "absolute":
        link.symlink_to("/etc/passwd")
    elif target == "folder":
        link.symlink_to(outside.parent)
    elif target == "chain":  # inside → inside → outside
        (source / "hop").symlink_to(outside)
        link.symlink_to("../hop")
    else:
        link.symlink_to("../../../nowhere")
    with pytest.raises(SnapshotError) as info:
        take_snapshot(ws, source)
    assert "pkg/leak ->" in str(info.value) and ".amlignore" in str(info.value)
    assert not list((ws.snapshots_dir / "objects").rglob("*")) or outside.read_bytes() not in [
        p.read_bytes() for p in (ws.snapshots_dir / "objects").rglob("*") if p.is_file()]


def test_ignored_escaping_link_is_left_out(ws: Workspace, source: Path, outside: Path) -> None:
    (source / "leak").symlink_to(outside)
    (source / ".amlignore").write_text("leak\n")
    snapshot = take_snapshot(ws, source)
    assert "leak" not in snapshot.files and "leak" not in snapshot.links


def test_links_inside_stay_links(ws: Workspace, source: Path, tmp_path: Path) -> None:
    (source / "same.csv").symlink_to("pkg/data.csv")
    (source / "pkg_again").symlink_to("pkg")
    (source / "pkg" / "abs.csv").symlink_to(source / "pkg" / "data.csv")  # absolute, but inside
    snapshot = take_snapshot(ws, source)
    assert snapshot.links == {"same.csv": "pkg/data.csv", "pkg_again": "pkg", "pkg/abs.csv": "data.csv"}
    assert set(snapshot.files) == {"train.py", "pkg/data.csv"}
    assert load_snapshot(ws, snapshot.id).links == snapshot.links
    work = materialize(ws, snapshot.id, tmp_path / "work")
    assert os.readlink(work / "same.csv") == "pkg/data.csv"
    assert (work / "pkg_again" / "data.csv").read_text() == "a,b\n1,2\n"
    assert os.readlink(work / "pkg" / "abs.csv") == "data.csv"  # points into the working copy


def test_snapshot_ids_without_links_are_unchanged(ws: Workspace, source: Path) -> None:
    import hashlib
    import json

    snapshot = take_snapshot(ws, source)
    flat = json.dumps({rel: list(entry) for rel, entry in snapshot.files.items()}, sort_keys=True)
    assert snapshot.id == hashlib.sha256(flat.encode()).hexdigest()[:32]


# -- outputs/ before upload -------------------------------------------------------------------


def test_escaping_links_in_outputs_are_found_and_removed(tmp_path: Path, outside: Path) -> None:
    outputs = tmp_path / "work" / "outputs"
    (outputs / "sub").mkdir(parents=True)
    (outputs / "model.pt").write_bytes(b"weights")
    (outputs / "inside").symlink_to("model.pt")
    (outputs / "sub" / "passwd").symlink_to("/etc/passwd")
    (outputs / "up").symlink_to(outside)
    (outputs / "dir").symlink_to(tmp_path)
    found = escaping_links(outputs)
    assert [rel for rel, _ in found] == ["dir", "sub/passwd", "up"]
    warnings = remove_escaping_links(outputs)
    assert len(warnings) == 3 and all("not uploaded" in w for w in warnings)
    assert escaping_links(outputs) == []
    assert os.path.islink(outputs / "inside") and (outputs / "model.pt").exists() and outside.exists()
    assert escaping_links(tmp_path / "missing") == []


# -- download names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "../../etc/passwd", "outputs/../../x", "/etc/passwd", "..", "",
                                  "..\\x"])
def test_download_file_refuses_names_escaping_the_run(own_ws: Workspace, tmp_path: Path, name: str) -> None:
    run = Run(Experiment(own_ws, "faults"), "faults_1_00000000", _details={"runId": "faults_1_00000000"})
    with pytest.raises(RunError, match="not a file of run"):
        run.download_file(name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_download_files_refuses_prefixes_escaping_the_run(own_ws: Workspace, tmp_path: Path) -> None:
    run = Run(Experiment(own_ws, "faults"), "faults_1_00000000", _details={"runId": "faults_1_00000000"})
    for prefix in ("../", "/etc", "outputs/../../"):
        with pytest.raises(RunError, match="escapes run"):
            run.download_files(prefix=prefix, output_directory=tmp_path / "out")


# -- modes ------------------------------------------------------------------------------------


def test_workspace_folder_is_private(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "p")
    assert _mode(ws.dir) == 0o700


def test_existing_open_workspace_is_tightened_with_a_warning(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "p")
    os.chmod(ws.dir, 0o755)
    with pytest.warns(UserWarning, match="now private"):
        again = Workspace.get(tmp_path / "p")
    assert _mode(again.dir) == 0o700


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o400])
def test_snapshot_objects_keep_the_source_mode(ws: Workspace, source: Path, tmp_path: Path,
                                               mode: int) -> None:
    script = source / "train.py"
    script.write_text(f"print({mode})\n")  # content unique to this mode
    os.chmod(script, mode)
    snapshot = take_snapshot(ws, source)
    digest, recorded = snapshot.files["train.py"]
    obj = ws.snapshots_dir / "objects" / digest[:2] / digest[2:]
    assert recorded == mode and _mode(obj) == mode
    work = materialize(ws, snapshot.id, tmp_path / "work")
    assert _mode(work / "train.py") == mode
    assert not os.path.samefile(work / "train.py", obj)  # a copy: the run cannot write into the store


def test_shared_object_gets_the_tighter_mode(ws: Workspace, source: Path) -> None:
    (source / "a.txt").write_text("same\n")
    (source / "b.txt").write_text("same\n")
    os.chmod(source / "a.txt", 0o644)
    os.chmod(source / "b.txt", 0o600)
    snapshot = take_snapshot(ws, source)
    digest, _ = snapshot.files["a.txt"]
    assert _mode(ws.snapshots_dir / "objects" / digest[:2] / digest[2:]) == 0o600
    assert snapshot.files["a.txt"][1] == 0o644 and snapshot.files["b.txt"][1] == 0o600
