"""Content-addressed snapshots of a job's source directory.

A snapshot is a manifest (relative path → content hash and mode) whose own hash is the
snapshot id; file contents are stored once under ``snapshots/objects/``. What is left out:
the patterns of ``.amlignore`` if the source directory has one, else of ``.gitignore``
(gitignore syntax), plus always ``.scriptrun/`` and ``.git/``.

Symbolic links: a link whose target lies inside the source directory is kept as a link
(its target rewritten relative to the link, so the working copy's link points into the
working copy); a link pointing outside it is **refused** with a :class:`SnapshotError`
naming every such link, since copying it would ship (and let the run read) a file the user
did not put in the job. Fix: copy the file in, or list the link in ``.amlignore``. Manifests
with links are ``{"files": {...}, "links": {path: target}}``; without links they keep the
flat ``{path: [hash, mode]}`` form, so earlier snapshot ids are unchanged.

Modes: each object keeps the permission bits of the file it was stored from (objects with
the same content stored from files with different modes keep the intersection, never more
than any source allowed); the manifest keeps each file's own mode, which its working copy
gets. Working copies are always *copies* of the objects, so a run writing into its working
directory cannot change the store.

:func:`escaping_links` and :func:`remove_escaping_links` apply the same rule to any folder,
e.g. a run's ``outputs/`` before it is uploaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from scriptrun.errors import SnapshotError
from scriptrun.workspace.locking import atomic_write
from scriptrun.workspace.workspace import Workspace

ALWAYS_IGNORED = (".scriptrun/", ".git/")
IGNORE_FILES = (".amlignore", ".gitignore")
_LISTED_LINKS = 10  # escaping links named in one error message


@dataclass(frozen=True)
class Snapshot:
    id: str
    files: dict[str, tuple[str, int]]  # relative path -> (sha256, mode)
    total_bytes: int
    links: dict[str, str] = field(default_factory=dict)  # relative path -> target, relative to the link


def _ignore_spec(source: Path) -> pathspec.PathSpec:
    lines = list(ALWAYS_IGNORED)
    for name in IGNORE_FILES:
        file = source / name
        if file.is_file():
            lines += file.read_text(encoding="utf-8", errors="replace").splitlines()
            break
    return pathspec.PathSpec.from_lines("gitignore", lines)


def _walk(root: Path, spec: pathspec.PathSpec | None = None) -> tuple[list[Path], list[Path]]:
    """Regular files and symbolic links under ``root`` (relative, sorted), never following links."""
    files: list[Path] = []
    links: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        kept = []
        for d in sorted(dirnames):
            rel = rel_dir / d
            if spec is not None and spec.match_file(f"{rel.as_posix()}/"):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                if spec is None or not spec.match_file(rel.as_posix()):
                    links.append(rel)
            else:
                kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = rel_dir / name
            if spec is not None and spec.match_file(rel.as_posix()):
                continue
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            if stat.S_ISLNK(mode):
                links.append(rel)
            elif stat.S_ISREG(mode):
                files.append(rel)
    return files, sorted(links)


def _link_target(root: Path, rel: Path) -> str | None:
    """The target of link ``rel`` relative to its folder, if it resolves inside ``root``; else None."""
    resolved = Path(os.path.realpath(root / rel))
    if resolved != root and root not in resolved.parents:
        return None
    return os.path.relpath(resolved, (root / rel).parent).replace(os.sep, "/")


def escaping_links(folder: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Symbolic links under ``folder`` whose target resolves outside it, as
    ``(path relative to folder, link target as written)``; links are never followed."""
    root = Path(folder).resolve()
    if not root.is_dir():
        return []
    _, links = _walk(root)
    return [(rel.as_posix(), os.readlink(root / rel)) for rel in links if _link_target(root, rel) is None]


def remove_escaping_links(folder: str | os.PathLike[str]) -> list[str]:
    """Delete the symbolic links under ``folder`` that point outside it (e.g. in a run's
    ``outputs/`` before upload, so no outside file becomes an artifact); return one warning
    line per removed link. Links pointing inside are left alone."""
    root = Path(folder).resolve()
    warnings = []
    for rel, target in escaping_links(root):
        (root / rel).unlink()
        warnings.append(f"{rel} -> {target}: not uploaded, the link points outside {root.name}/")
    return warnings


def list_files(source: Path) -> list[Path]:
    """The regular files of ``source`` that a snapshot includes, as paths relative to it."""
    return _walk(Path(source), _ignore_spec(Path(source)))[0]


def take_snapshot(workspace: Workspace, source_directory: str | os.PathLike[str]) -> Snapshot:
    """Store the ignore-filtered content of ``source_directory``; return its snapshot."""
    source = Path(source_directory).resolve()
    files, link_paths = _walk(source, _ignore_spec(source))
    links: dict[str, str] = {}
    escaping: list[str] = []
    for rel in link_paths:
        target = _link_target(source, rel)
        if target is None:
            escaping.append(f"{rel.as_posix()} -> {os.readlink(source / rel)}")
        else:
            links[rel.as_posix()] = target
    if escaping:
        listing = ", ".join(escaping[:_LISTED_LINKS]) + (f" (and {len(escaping) - _LISTED_LINKS} more)"
                                                         if len(escaping) > _LISTED_LINKS else "")
        links_word = "symbolic link" if len(escaping) == 1 else "symbolic links"
        raise SnapshotError(
            f"source directory {source} holds {len(escaping)} {links_word} pointing outside it: {listing}. "
            "A snapshot holds only what is inside the source directory. "
            "Fix: copy the file or folder into the source directory, or list the link in a .amlignore file "
            "(gitignore syntax) to leave it out."
        )
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
            "`snapshot_max_bytes` in .scriptrun/config.yaml.", code="SR-SNAPSHOT-TOO-LARGE"
        )
    objects = workspace.snapshots_dir / "objects"
    manifest: dict[str, tuple[str, int]] = {}
    for rel in files:
        path = source / rel
        mode = path.stat().st_mode & 0o777
        manifest[rel.as_posix()] = (_store(path, objects, mode), mode)
    body = json.dumps({"files": manifest, "links": links} if links else manifest, sort_keys=True)
    snapshot_id = hashlib.sha256(body.encode()).hexdigest()[:32]
    manifest_file = workspace.snapshots_dir / "manifests" / f"{snapshot_id}.json"
    if not manifest_file.exists():
        manifest_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(manifest_file, body)
    return Snapshot(id=snapshot_id, files=manifest, total_bytes=total, links=links)


def _store(path: Path, objects: Path, mode: int) -> str:
    """Store ``path``'s content once (mode bits kept, and never loosened); return its hash."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    target = objects / digest[:2] / digest[2:]
    wanted = mode | 0o400  # the owner must be able to read it back
    if target.exists():
        current = target.stat().st_mode & 0o777
        if current & ~wanted:
            os.chmod(target, current & wanted)
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
        os.fchmod(out.fileno(), wanted)
    os.replace(tmp, target)
    return digest


def load_snapshot(workspace: Workspace, snapshot_id: str) -> Snapshot:
    manifest_file = workspace.snapshots_dir / "manifests" / f"{snapshot_id}.json"
    try:
        raw = json.loads(manifest_file.read_text())
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {snapshot_id} not found in {workspace.snapshots_dir}")
    links: dict[str, str] = {}
    if isinstance(raw.get("files"), dict) and isinstance(raw.get("links"), dict):
        raw, links = raw["files"], raw["links"]
    files = {rel: (digest, mode) for rel, (digest, mode) in raw.items()}
    objects = workspace.snapshots_dir / "objects"
    total = sum((objects / d[:2] / d[2:]).stat().st_size for d, _ in files.values())
    return Snapshot(id=snapshot_id, files=files, total_bytes=total, links=links)


def materialize(workspace: Workspace, snapshot_id: str, destination: str | os.PathLike[str]) -> Path:
    """Write a working copy of the snapshot into ``destination`` (created): files are copied
    (never linked to the store) with their recorded modes; links are recreated as links."""
    snapshot = load_snapshot(workspace, snapshot_id)
    dest = Path(destination)
    dest.mkdir(parents=True, exist_ok=True)
    objects = workspace.snapshots_dir / "objects"
    for rel, (digest, mode) in snapshot.files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(objects / digest[:2] / digest[2:], target)
        os.chmod(target, mode)
    for rel, link_target in snapshot.links.items():
        inside = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link_target))
        if posixpath.isabs(link_target) or inside == ".." or inside.startswith("../"):
            raise SnapshotError(f"snapshot {snapshot_id}: link {rel} -> {link_target} points outside the "
                                "snapshot; take a new snapshot")
        link = dest / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link_target, link)
    return dest
