"""Read-only views of mounted inputs: what ``as_mount()`` gives a script on a local datastore.

v1 mounts are read-only, and nothing a run does may reach registered data. Handing the script
the datastore folder itself ("in place") lets ``os.remove`` or ``open(f, "w")`` change every
version of a dataset; a hard-link farm still shares each file's inode (an in-place write
reaches the datastore), and file modes do not stop root. So the script gets its own copy:

* each file is **cloned** (``FICLONE``, a copy-on-write reflink: instant, no extra space) where
  the filesystem supports it (btrfs, XFS, bcachefs, ZFS ≥ 2.2), else copied in the kernel
  (``copy_file_range``: no round trip through Python, server-side on NFS), else read and written;
* files are then made read-only (``0444``) and folders ``0555``, so that a non-root script gets
  v1's error on a write; a root script can still write, but only to its private copy.

Measured on this project's machine (ext4, no reflink), see ``docs/environments-and-data.md``.
:func:`remove_view` restores the write bits and deletes a view.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

FICLONE = 0x40049409  # _IOW(0x94, 9, int) from <linux/fs.h>
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF, errno.EPERM}
_CHUNK = 1 << 30


@dataclass(frozen=True)
class ViewStats:
    """How a view was made: files and bytes, how many files were cloned, seconds taken."""

    files: int
    bytes: int
    cloned: int
    seconds: float

    @property
    def method(self) -> str:
        if self.files and self.cloned == self.files:
            return "reflink"
        return "reflink+copy" if self.cloned else "copy"


def read_only_view(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> ViewStats:
    """Make ``target`` a read-only copy of ``source`` (a file or a folder; symbolic links are
    followed), cloning files where the filesystem can. An existing ``target`` is replaced."""
    started = time.perf_counter()
    src, dst = Path(source), Path(target)
    remove_view(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    cloned = 0
    if src.is_file():
        cloned = int(clone_file(src, dst))
    else:
        for folder, _, names in os.walk(src, followlinks=True):
            out = dst / os.path.relpath(folder, src)
            out.mkdir(parents=True, exist_ok=True)
            for name in names:
                cloned += clone_file(Path(folder) / name, out / name)
    stats = make_read_only(dst)
    return ViewStats(stats.files, stats.bytes, cloned, time.perf_counter() - started)


def make_read_only(root: str | os.PathLike[str]) -> ViewStats:
    """Files ``0444`` and folders ``0555`` below ``root`` (children first: a read-only folder
    takes no new entries); returns what is there (nothing counted as cloned)."""
    started = time.perf_counter()
    path = Path(root)
    if path.is_file():
        os.chmod(path, 0o444)
        return ViewStats(1, path.stat().st_size, 0, time.perf_counter() - started)
    files = size = 0
    for folder, _, names in os.walk(path, topdown=False):
        for name in names:
            file = os.path.join(folder, name)
            os.chmod(file, 0o444)
            size += os.stat(file).st_size
            files += 1
        os.chmod(folder, 0o555)
    return ViewStats(files, size, 0, time.perf_counter() - started)


def clone_file(src: Path, dst: Path) -> bool:
    """Copy ``src`` to ``dst`` (a new file) and its modification time; True when it was a
    copy-on-write clone sharing ``src``'s blocks."""
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        try:
            fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
            cloned = True
        except OSError as exc:
            if exc.errno not in _NO_CLONE:
                raise
            cloned = False
            _copy_contents(fin, fout)
    st = os.stat(src)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    return cloned


def _copy_contents(fin, fout) -> None:
    """In the kernel when it can (``copy_file_range``), else through a buffer."""
    copied = 0
    if hasattr(os, "copy_file_range"):  # Linux
        try:
            while n := os.copy_file_range(fin.fileno(), fout.fileno(), _CHUNK):
                copied += n
            return
        except OSError as exc:
            if exc.errno not in _NO_CLONE or copied:
                raise
    shutil.copyfileobj(fin, fout, 1 << 20)


def remove_view(path: str | os.PathLike[str]) -> None:
    """Delete a view made by :func:`read_only_view` (giving its folders their write bit back
    first, so that a non-root agent can delete it too). A missing ``path`` is fine."""
    root = Path(path)
    if root.is_symlink() or root.is_file():
        root.unlink()
        return
    if not root.is_dir():
        return
    for folder, dirs, _ in os.walk(root):
        os.chmod(folder, stat.S_IMODE(os.stat(folder).st_mode) | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    shutil.rmtree(root)
