"""Content-addressed snapshots of a job's source directory.

A snapshot is a manifest (relative path → content hash and mode) whose own hash is the
snapshot id; file contents are stored once under ``snapshots/objects/``. What is left out:
the patterns of ``.amlignore`` if the source directory has one, else of ``.gitignore``
(gitignore syntax), plus always ``.scriptrun/`` and ``.git/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pathspec

from scriptrun.errors import SnapshotError
from scriptrun.workspace.locking import atomic_write
from scriptrun.workspace.workspace import Workspace

ALWAYS_IGNORED = (".scriptrun/", ".git/")
IGNORE_FILES = (".amlignore", ".gitignore")


@dataclass(frozen=True)
class Snapshot:
    id: str
    files: dict[str, tuple[str, int]]  # relative path -> (sha256, mode)
    total_bytes: int


def _ignore_spec(source: Path) -> pathspec.PathSpec:
    lines = list(ALWAYS_IGNORED)
    for name in IGNORE_FILES:
        file = source / name
        if file.is_file():
            lines += file.read_text(encoding="utf-8", errors="replace").splitlines()
            break
    return pathspec.PathSpec.from_lines("gitignore", lines)


def list_files(source: Path) -> list[Path]:
    """The files of ``source`` that a snapshot includes, as paths relative to it."""
    spec = _ignore_spec(source)
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(source):
        rel_dir = Path(dirpath).relative_to(source)
        dirnames[:] = sorted(d for d in dirnames if not spec.match_file(f"{(rel_dir / d).as_posix()}/"))
        for name in sorted(filenames):
            rel = rel_dir / name
            if not spec.match_file(rel.as_posix()) and (Path(dirpath) / name).is_file():
                out.append(rel)
    return out


def take_snapshot(workspace: Workspace, source_directory: str | os.PathLike[str]) -> Snapshot:
    """Store the ignore-filtered content of ``source_directory``; return its snapshot."""
    source = Path(source_directory).resolve()
    files = list_files(source)
    limit = workspace.settings.snapshot_max_bytes
    sizes = {rel: (source / rel).stat().st_size for rel in files}
    total = sum(sizes.values())
    if total > limit:
        biggest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
        listing = ", ".join(f"{rel.as_posix()} ({size / 2**20:.1f} MiB)" for rel, size in biggest)
        raise SnapshotError(
            f"source directory {source} holds {total / 2**20:.1f} MiB, over the snapshot limit of "
            f"{limit / 2**20:.0f} MiB. Largest files: {listing}. "
            "Fix: list data, checkpoints and virtualenvs in a .amlignore file in the source directory "
            "(gitignore syntax), move the training code to a smaller folder, or raise "
            "`snapshot_max_bytes` in .scriptrun/config.yaml."
        )
    objects = workspace.snapshots_dir / "objects"
    manifest: dict[str, tuple[str, int]] = {}
    for rel in files:
        path = source / rel
        digest = _store(path, objects)
        manifest[rel.as_posix()] = (digest, path.stat().st_mode & 0o777)
    body = json.dumps(manifest, sort_keys=True)
    snapshot_id = hashlib.sha256(body.encode()).hexdigest()[:32]
    manifest_file = workspace.snapshots_dir / "manifests" / f"{snapshot_id}.json"
    if not manifest_file.exists():
        manifest_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(manifest_file, body)
    return Snapshot(id=snapshot_id, files=manifest, total_bytes=total)


def _store(path: Path, objects: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    target = objects / digest[:2] / digest[2:]
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return digest


def load_snapshot(workspace: Workspace, snapshot_id: str) -> Snapshot:
    manifest_file = workspace.snapshots_dir / "manifests" / f"{snapshot_id}.json"
    try:
        raw = json.loads(manifest_file.read_text())
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {snapshot_id} not found in {workspace.snapshots_dir}")
    files = {rel: (digest, mode) for rel, (digest, mode) in raw.items()}
    objects = workspace.snapshots_dir / "objects"
    total = sum((objects / d[:2] / d[2:]).stat().st_size for d, _ in files.values())
    return Snapshot(id=snapshot_id, files=files, total_bytes=total)


def materialize(workspace: Workspace, snapshot_id: str, destination: str | os.PathLike[str]) -> Path:
    """Write a working copy of the snapshot into ``destination`` (created)."""
    snapshot = load_snapshot(workspace, snapshot_id)
    dest = Path(destination)
    dest.mkdir(parents=True, exist_ok=True)
    objects = workspace.snapshots_dir / "objects"
    for rel, (digest, mode) in snapshot.files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(objects / digest[:2] / digest[2:], target)
        os.chmod(target, mode)
    return dest
