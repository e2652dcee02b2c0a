"""Workspaces, the asset registry and content-addressed snapshots (real files, no agent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scriptrun import SnapshotError, Workspace, WorkspaceError
from scriptrun.workspace import AssetRegistry
from scriptrun.workspace.snapshot import list_files, materialize, take_snapshot


def test_create_get_and_find_from_nested_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("SCRIPTRUN_WORKSPACE", raising=False)
    ws = Workspace.create(tmp_path / "proj")
    assert ws.dir == (tmp_path / "proj" / ".scriptrun").resolve()
    assert ws.tracking_uri == f"sqlite:///{ws.dir / 'mlflow.db'}"
    nested = tmp_path / "proj" / "a" / "b"
    nested.mkdir(parents=True)
    assert Workspace.from_config(nested) == ws
    assert Workspace.get(tmp_path / "proj" / ".scriptrun") == ws
    with pytest.raises(WorkspaceError, match="already exists"):
        Workspace.create(tmp_path / "proj", exist_ok=False)
    with pytest.raises(WorkspaceError, match="no scriptrun workspace found"):
        Workspace.from_config(tmp_path)
    assert Workspace.find(tmp_path) is None


def test_environment_variable_overrides_the_search(tmp_path, monkeypatch):
    ws = Workspace.create(tmp_path / "team")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCRIPTRUN_WORKSPACE", str(tmp_path / "team"))
    assert Workspace.from_config() == ws
    monkeypatch.setenv("SCRIPTRUN_WORKSPACE", str(tmp_path / "nowhere"))
    with pytest.raises(WorkspaceError, match="SCRIPTRUN_WORKSPACE"):
        Workspace.from_config()


def test_resolve_creates_the_implicit_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SCRIPTRUN_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    ws = Workspace.resolve()
    assert ws.root == tmp_path.resolve() and (tmp_path / ".scriptrun").is_dir()


def test_settings_tracking_uri_and_bad_settings(tmp_path):
    ws = Workspace.create(tmp_path, tracking_uri="http://127.0.0.1:5999")
    assert Workspace.get(tmp_path).tracking_uri == "http://127.0.0.1:5999"
    (ws.dir / "config.yaml").write_text(yaml.safe_dump({"max_concurent_runs": 3}))
    with pytest.raises(WorkspaceError, match="did you mean `max_concurrent_runs`"):
        Workspace.get(tmp_path)


def test_registry_versions_and_identical_definitions(tmp_path):
    registry = AssetRegistry(Workspace.create(tmp_path), "things")
    assert registry.register("a", {"x": 1}) == 1
    assert registry.register("a", {"x": 1}) == 1
    assert registry.register("a", {"x": 2}) == 2
    assert registry.get("a") == ({"x": 2}, 2)
    assert registry.get("a", 1) == ({"x": 1}, 1)
    with pytest.raises(WorkspaceError, match="no version 7"):
        registry.get("a", 7)
    with pytest.raises(WorkspaceError, match="did you mean"):
        registry.get("aa")
    with pytest.raises(WorkspaceError, match="invalid things name"):
        registry.register("bad name!", {})
    registry.delete("a")
    assert registry.names() == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_snapshot_honours_amlignore_before_gitignore(tmp_path):
    src = _tree(tmp_path / "src", {"train.py": "x", "data/big.bin": "d", "notes.txt": "n", ".git/HEAD": "h",
                                   "cache/c.txt": "c", ".gitignore": "notes.txt\n", ".amlignore": "data/\n*.bin\n"})
    names = {p.as_posix() for p in list_files(src)}
    assert names == {"train.py", "notes.txt", "cache/c.txt", ".gitignore", ".amlignore"}
    (src / ".amlignore").unlink()
    names = {p.as_posix() for p in list_files(src)}
    assert "notes.txt" not in names and "data/big.bin" in names and ".git/HEAD" not in names


def test_snapshot_is_content_addressed_and_materialises(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    src = _tree(tmp_path / "src", {"train.py": "print(1)", "pkg/mod.py": "A = 1"})
    (src / "train.py").chmod(0o755)
    first = take_snapshot(ws, src)
    assert take_snapshot(ws, src).id == first.id
    (src / "pkg" / "mod.py").write_text("A = 2")
    second = take_snapshot(ws, src)
    assert second.id != first.id
    assert second.files["train.py"] == first.files["train.py"]  # unchanged content is stored once
    copy = materialize(ws, first.id, tmp_path / "copy")
    assert (copy / "pkg" / "mod.py").read_text() == "A = 1"
    assert (copy / "train.py").stat().st_mode & 0o777 == 0o755


def test_snapshot_over_the_limit_is_a_clear_error(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    (ws.dir / "config.yaml").write_text("snapshot_max_bytes: 1000\n")
    ws = Workspace.get(tmp_path / "ws")
    src = _tree(tmp_path / "src", {"train.py": "x", "weights.ckpt": "w" * 5000})
    with pytest.raises(SnapshotError) as info:
        take_snapshot(ws, src)
    message = str(info.value)
    assert "weights.ckpt" in message and ".amlignore" in message and "snapshot_max_bytes" in message
    (src / ".amlignore").write_text("*.ckpt\n")
    assert "weights.ckpt" not in take_snapshot(ws, src).files
