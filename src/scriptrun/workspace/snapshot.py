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
gets.

Working copies (:func:`materialize`) are zero-copy: each file is a reflink of its object where
the filesystem has them (btrfs, XFS, ...: copy-on-write, fully private), else a hard link to
it, else (another filesystem, a different mode, too many links) a copy. A hard link shares
the object's inode, so a script writing *into* a source file in place would change the store;
modes cannot prevent that (root ignores them, and objects keep their source's write bits).
Files under ``outputs/`` and ``logs/`` (the folders runs write) are always copied.
Otherwise every object has a fixed mtime (:data:`OBJECT_MTIME_NS`): a write in place moves it.
:func:`release_working_copy` (at the end of each run) evicts every object its run wrote that
way, and remembers the path so later working copies get a private copy of that file;
:func:`take_snapshot` stores any evicted or changed object afresh from the source, and
:func:`materialize` refuses an object whose content no longer matches its hash. Runs of the
same snapshot *at the same time* share such a write (see ``docs/performance.md``); the
workspace setting ``working_copy: copy`` gives every run private copies.

A stat cache per source directory (size, mtime, ctime, inode → hash) lets a resubmit of an
unchanged folder hash nothing; a file modified less than a second before the snapshot that
cached it is hashed again next time (a write within the clock's granularity keeps the mtime).

:func:`escaping_links` and :func:`remove_escaping_links` apply the same rule to any folder,
e.g. a run's ``outputs/`` before it is uploaded.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import posixpath
import shutil
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from scriptrun.errors import SnapshotError
from scriptrun.progress import Progress
from scriptrun.workspace.locking import atomic_write
from scriptrun.workspace.workspace import Workspace

ALWAYS_IGNORED = (".scriptrun/", ".git/")
IGNORE_FILES = (".amlignore", ".gitignore")
OBJECT_MTIME_NS = 946_684_800 * 10**9  # 2000-01-01 UTC: every stored object's mtime (after 1980, for zip)
_LISTED_LINKS = 10  # escaping links named in one error message
_RACY_NS = 10**9  # a file modified this close before a snapshot is hashed again by the next one
_FICLONE = 0x40049409  # linux/fs.h: clone a file's extents (a reflink)
_NO_REFLINK: set[tuple[int, int]] = set()  # (store device, destination device) pairs without reflinks
WRITTEN_FILE = "written.json"  # paths runs wrote in place: always copied into working copies
RUN_WRITES = ("outputs/", "logs/")  # the folders a run writes into: files already there are always copied
log = logging.getLogger("scriptrun.snapshot")


@dataclass(frozen=True)
class Snapshot:
    id: str
    files: dict[str, tuple[str, int]]  # relative path -> (sha256, mode)
    total_bytes: int
    links: dict[str, str] = field(default_factory=dict)  # relative path -> target, relative to the link


_ALWAYS_IGNORED_DIRS = frozenset(p.rstrip("/") for p in ALWAYS_IGNORED)


def _ignore_spec(source: Path) -> pathspec.PathSpec | None:
    """The patterns of the source's ignore file, if it has one (``ALWAYS_IGNORED`` is applied by
    :func:`_scan`'s ``skip_dirs``, cheaper than matching every path against it)."""
    for name in IGNORE_FILES:
        file = source / name
        if file.is_file():
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
            return pathspec.PathSpec.from_lines("gitignore", lines)
    return None


def _scan(root: Path, spec: pathspec.PathSpec | None = None,
          skip_dirs: frozenset[str] = frozenset()) -> tuple[dict[str, os.stat_result], list[Path]]:
    """Regular files (relative posix path → lstat) and symbolic links (relative, sorted) under
    ``root``, never following links, leaving out folders named in ``skip_dirs`` and what ``spec``
    matches."""
    files: dict[str, os.stat_result] = {}
    links: list[Path] = []
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in skip_dirs and (spec is None or not spec.match_file(f"{rel}/")):
                        pending.append((entry.path, f"{rel}/"))
                elif spec is not None and (spec.match_file(rel) or entry.is_symlink() and entry.is_dir()
                                           and spec.match_file(f"{rel}/")):
                    continue
                elif entry.is_symlink():
                    links.append(Path(rel))
                elif entry.is_file(follow_symlinks=False):
                    files[rel] = entry.stat(follow_symlinks=False)
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
    _, links = _scan(root)
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
    return sorted(Path(rel) for rel in _scan(Path(source), _ignore_spec(Path(source)), _ALWAYS_IGNORED_DIRS)[0])


def take_snapshot(workspace: Workspace, source_directory: str | os.PathLike[str]) -> Snapshot:
    """Store the ignore-filtered content of ``source_directory``; return its snapshot. Files
    whose stat matches the stat cache are not read (their object is only checked intact).
    A snapshot that takes a while shows its progress on stderr."""
    started_ns = time.time_ns()
    source = Path(source_directory).resolve()
    files, link_paths = _scan(source, _ignore_spec(source), _ALWAYS_IGNORED_DIRS)
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
    total = sum(st.st_size for st in files.values())
    if total > limit:
        biggest = sorted(files.items(), key=lambda kv: -kv[1].st_size)[:5]
        listing = ", ".join(f"{rel} ({st.st_size / 2**20:.1f} MiB)" for rel, st in biggest)
        raise SnapshotError(
            f"source directory {source} holds {total / 2**20:.1f} MiB, over the snapshot limit of "
            f"{limit / 2**20:.0f} MiB. Largest files: {listing}. "
            "Fix: list data, checkpoints and virtualenvs in a .amlignore file in the source directory "
            "(gitignore syntax), move the training code to a smaller folder, or raise "
            "`snapshot_max_bytes` in .scriptrun/config.yaml."
        )
    objects = workspace.snapshots_dir / "objects"
    objects_s, source_s = str(objects), str(source)
    cache_file = workspace.snapshots_dir / "statcache" / f"{hashlib.sha256(bytes(source)).hexdigest()[:24]}.json"
    cached, cached_at = _read_cache(cache_file)
    fresh: dict[str, list[int | str]] = {}
    manifest: dict[str, tuple[str, int]] = {}
    hashed = 0
    with Progress(f"Snapshotting {source.name}", total=total) as progress:
        for rel in sorted(files):
            st = files[rel]
            mode = st.st_mode & 0o777
            signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            hit = cached.get(rel)
            digest = hit[4] if hit and hit[:4] == signature and st.st_mtime_ns < cached_at - _RACY_NS else None
            if digest is None or not _intact(f"{objects_s}/{digest[:2]}/{digest[2:]}"):
                digest = _store(Path(f"{source_s}/{rel}"), objects, mode)
                hashed += 1
            fresh[rel] = [*signature, digest]
            manifest[rel] = (digest, mode)
            progress.advance(st.st_size)
    if hashed or fresh.keys() != cached.keys():
        _write_cache(cache_file, fresh, started_ns)
    body = json.dumps({"files": manifest, "links": links} if links else manifest, sort_keys=True)
    snapshot_id = hashlib.sha256(body.encode()).hexdigest()[:32]
    manifest_file = workspace.snapshots_dir / "manifests" / f"{snapshot_id}.json"
    if not manifest_file.exists():
        manifest_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(manifest_file, body)
    return Snapshot(id=snapshot_id, files=manifest, total_bytes=total, links=links)


def _read_cache(cache_file: Path) -> tuple[dict[str, list], int]:
    """The stat cache of one source directory and when it was taken; empty if absent or unreadable."""
    try:
        raw = json.loads(cache_file.read_bytes())
        return dict(raw["files"]), int(raw["taken_ns"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}, 0


def _write_cache(cache_file: Path, files: dict[str, list[int | str]], taken_ns: int) -> None:
    """Replace the stat cache (not fsynced: a lost cache only costs hashing again)."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_file, json.dumps({"taken_ns": taken_ns, "files": files}), durable=False)
    except OSError:
        pass


def _intact(obj: str) -> bool:
    """Whether the object exists and was not written in place since it was stored."""
    try:
        return os.stat(obj).st_mtime_ns == OBJECT_MTIME_NS
    except FileNotFoundError:
        return False


def _hash_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _store(path: Path, objects: Path, mode: int) -> str:
    """Store ``path``'s content once (mode bits kept, and never loosened); return its hash.
    An object that a run wrote in place (its mtime moved) is replaced by a fresh copy."""
    digest = _hash_file(path)
    target = objects / digest[:2] / digest[2:]
    wanted = mode | 0o400  # the owner must be able to read it back
    try:
        current = os.stat(target)
    except FileNotFoundError:
        current = None
    if current is not None:
        wanted &= current.st_mode & 0o777 | 0o400
        if current.st_mtime_ns == OBJECT_MTIME_NS:
            if current.st_mode & 0o777 != wanted:
                os.chmod(target, wanted)
            return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fchmod(out.fileno(), wanted)
        os.utime(out.fileno(), ns=(OBJECT_MTIME_NS, OBJECT_MTIME_NS))
    os.replace(tmp, target)
    return digest


def _manifest(workspace: Workspace, snapshot_id: str) -> tuple[dict[str, tuple[str, int]], dict[str, str]]:
    manifest_file = workspace.snapshots_dir / "manifests" / f"{snapshot_id}.json"
    try:
        raw = json.loads(manifest_file.read_text())
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {snapshot_id} not found in {workspace.snapshots_dir}")
    links: dict[str, str] = {}
    if isinstance(raw.get("files"), dict) and isinstance(raw.get("links"), dict):
        raw, links = raw["files"], raw["links"]
    return {rel: (digest, mode) for rel, (digest, mode) in raw.items()}, links


def load_snapshot(workspace: Workspace, snapshot_id: str) -> Snapshot:
    files, links = _manifest(workspace, snapshot_id)
    objects = workspace.snapshots_dir / "objects"
    total = sum((objects / d[:2] / d[2:]).stat().st_size for d, _ in files.values())
    return Snapshot(id=snapshot_id, files=files, total_bytes=total, links=links)


def written_paths(workspace: Workspace) -> set[str]:
    """Paths that a run of this workspace wrote in place: their working copies are private copies."""
    try:
        return set(json.loads((workspace.snapshots_dir / WRITTEN_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return set()


def materialize(workspace: Workspace, snapshot_id: str, destination: str | os.PathLike[str], *,
                share: bool = False) -> Path:
    """Write a copy of the snapshot into ``destination`` (created), files with their recorded
    modes, links recreated as links. With ``share`` (a run's working copy, released by
    :func:`release_working_copy`) files are reflinks or hard links of their objects where
    possible (see the module docstring); without it, private copies."""
    files, links = _manifest(workspace, snapshot_id)
    dest = Path(destination)
    dest.mkdir(parents=True, exist_ok=True)
    objects = workspace.snapshots_dir / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    private = written_paths(workspace) if share else set()
    reflink = share and (os.stat(objects).st_dev, os.stat(dest).st_dev) not in _NO_REFLINK
    hardlink = share
    objects_s, dest_s = str(objects), str(dest)  # plain strings: pathlib costs more than a link here
    folders = {""}
    for rel, (digest, mode) in files.items():
        obj, target = f"{objects_s}/{digest[:2]}/{digest[2:]}", f"{dest_s}/{rel}"
        folder = rel.rpartition("/")[0]
        if folder not in folders:
            os.makedirs(f"{dest_s}/{folder}", exist_ok=True)
            folders.add(folder)
        if rel in private or rel.startswith(RUN_WRITES) or not (reflink or hardlink):
            _copy(obj, target, mode)
        elif reflink and _reflink(obj, target, mode):
            continue
        else:
            reflink = False
            hardlink = hardlink and _hardlink(obj, target, mode, snapshot_id, rel, digest)
    for rel, link_target in links.items():
        inside = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link_target))
        if posixpath.isabs(link_target) or inside == ".." or inside.startswith("../"):
            raise SnapshotError(f"snapshot {snapshot_id}: link {rel} -> {link_target} points outside the "
                                "snapshot; take a new snapshot")
        link = dest / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link_target, link)
    return dest


def _copy(obj: str, target: str, mode: int) -> None:
    try:
        shutil.copyfile(obj, target)
    except FileNotFoundError:
        raise SnapshotError(f"snapshot object {os.path.basename(obj)} of {os.path.basename(target)} is missing (a run wrote it in place "
                            "and it was evicted). Fix: submit again, which stores it afresh from the source.")
    os.chmod(target, mode)


def _reflink(obj: str, target: str, mode: int) -> bool:
    """A copy-on-write clone of ``obj`` at ``target``; False (nothing left behind) where the
    filesystem has no reflinks, remembered for this pair of devices."""
    with open(obj, "rb") as src:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.ioctl(fd, _FICLONE, src.fileno())
            os.fchmod(fd, mode)
            return True
        except OSError as exc:
            os.unlink(target)
            if exc.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EPERM):
                _NO_REFLINK.add((os.fstat(src.fileno()).st_dev, os.fstat(fd).st_dev))
                return False
            raise
        finally:
            os.close(fd)


def _hardlink(obj: str, target: str, mode: int, snapshot_id: str, rel: str, digest: str) -> bool:
    """Hard-link ``target`` to ``obj`` (checked intact, same mode), else copy it; False when
    this store cannot be hard-linked into the destination at all (another filesystem)."""
    try:
        os.link(obj, target)
    except FileNotFoundError:
        _copy(obj, target, mode)  # raises the clear error
    except OSError as exc:
        _copy(obj, target, mode)
        return exc.errno not in (errno.EXDEV, errno.EPERM, errno.EACCES)  # EMLINK: only this object
    st = os.lstat(target)
    if st.st_mtime_ns != OBJECT_MTIME_NS:  # written in place since stored, or a store of an older version
        if _hash_file(obj) != digest:
            os.unlink(target)
            raise SnapshotError(f"snapshot {snapshot_id}: the stored content of {rel} was changed by a run that "
                                "wrote into its working copy. Fix: submit again, which stores the file afresh.")
        os.utime(obj, ns=(OBJECT_MTIME_NS, OBJECT_MTIME_NS))
    if st.st_mode & 0o777 != mode:  # the object is shared with a file of a tighter mode
        os.unlink(target)
        _copy(obj, target, mode)
    return True


def release_working_copy(workspace: Workspace, snapshot_id: str, workdir: str | os.PathLike[str]) -> list[str]:
    """Check, before the working copy is deleted, that its run wrote no hard-linked file in
    place; evict every object it did (:func:`take_snapshot` stores them afresh) and remember
    their paths so later working copies get private copies. Returns the paths written."""
    try:
        files, _ = _manifest(workspace, snapshot_id)
    except SnapshotError:
        return []
    objects = str(workspace.snapshots_dir / "objects")
    written = []
    for rel, (digest, _) in files.items():
        try:
            st = os.lstat(os.path.join(workdir, rel))
        except OSError:
            continue
        if st.st_nlink < 2 or st.st_mtime_ns == OBJECT_MTIME_NS or not stat.S_ISREG(st.st_mode):
            continue
        obj = f"{objects}/{digest[:2]}/{digest[2:]}"
        try:
            if os.stat(obj).st_ino == st.st_ino:
                os.unlink(obj)
        except FileNotFoundError:
            pass
        written.append(rel)
    if written:
        log.warning("snapshot %s: the run wrote %s in place; the stored copies were evicted and these paths "
                    "are copied (not linked) into later working copies", snapshot_id, ", ".join(written[:10]))
        known = written_paths(workspace)
        atomic_write(workspace.snapshots_dir / WRITTEN_FILE, json.dumps(sorted(known | set(written))))
    return written
