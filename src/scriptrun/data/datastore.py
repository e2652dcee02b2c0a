"""Datastores: named storage roots given as fsspec URLs (v1 §10.5).

The default datastore, ``workspaceblobstore``, is a folder inside the workspace
(``.scriptrun/datastores/workspaceblobstore``). ``Datastore.register(ws, name, url)`` adds
any fsspec URL: a local folder, ``s3://bucket/prefix``, ``gs://…``, ``az://…`` (when the
matching fsspec package — s3fs, gcsfs, adlfs — is installed). Registrations live in the
workspace registry (``AssetRegistry(ws, "datastores")``).

Every path on a datastore is relative to its root and may not leave it (``../`` that climbs
above the root is rejected), so a job cannot read or overwrite data outside the store it names.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scriptrun.errors import ConfigError, DataError, Problem, WorkspaceError
from scriptrun.progress import Progress
from scriptrun.spec.problems import did_you_mean
from scriptrun.workspace import AssetRegistry, Workspace

if TYPE_CHECKING:
    from scriptrun.data.datapath import DataReference

REGISTRY_KIND = "datastores"
DEFAULT_DATASTORE = "workspaceblobstore"
_FSSPEC_HINTS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
                 "abfss": "adlfs", "hf": "huggingface_hub"}


def relative_path(path: str | None, field: str = "path_on_datastore") -> str:
    """``path`` as a normalised path relative to a datastore root ('' for the root).

    Raises ConfigError naming ``field`` when the path climbs out of the root."""
    text = (path or "").replace("\\", "/").strip().lstrip("/")
    joined = posixpath.normpath(text) if text else "."
    if joined == ".." or joined.startswith("../"):
        raise ConfigError(Problem(field, f"{path!r} escapes the datastore root",
                                  hint="give a path inside the datastore, without `..` that climbs above its root",
                                  code="SR-DATA-PATH-ESCAPE"))
    return "" if joined == "." else joined


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem and root path of ``url`` (a local path or any fsspec URL)."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        package = _FSSPEC_HINTS.get(protocol)
        hint = f"; install it with `pip install {package}`" if package else ""
        raise DataError(f"cannot open {url!r}: {exc}{hint}") from None


def is_local(url: str) -> bool:
    return "://" not in url or url.startswith(("file://", "local://"))


def local_path(url: str) -> str:
    return url.split("://", 1)[1] if url.startswith(("file://", "local://")) else url


class Datastore:
    """A named storage root. ``Datastore(ws)`` is the default one; ``Datastore(ws, name)``
    a registered one."""

    def __init__(self, workspace: Workspace, name: str | None = None):
        self.workspace = workspace
        self.name = name or DEFAULT_DATASTORE
        self.url = datastore_url(workspace, self.name)
        self.datastore_type = "local" if is_local(self.url) else self.url.split("://", 1)[0]

    # -- registry (v1 names) ------------------------------------------------------------------

    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Datastore:
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Workspace) -> Datastore:
        return Datastore(workspace)

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Datastore]:
        """Every datastore by name, the default one first."""
        names = [DEFAULT_DATASTORE, *AssetRegistry(workspace, REGISTRY_KIND).names()]
        return {name: Datastore(workspace, name) for name in dict.fromkeys(names)}

    @staticmethod
    def register(workspace: Workspace, datastore_name: str, url: str | os.PathLike[str], *,
                 overwrite: bool = False, create_if_not_exists: bool = True) -> Datastore:
        """Register ``url`` (a local folder or any fsspec URL) as ``datastore_name``.

        A relative local path is made absolute; a local folder is created if missing.
        Registering another URL under an existing name needs ``overwrite=True``."""
        if datastore_name == DEFAULT_DATASTORE:
            raise DataError(f"{DEFAULT_DATASTORE!r} is the workspace's default datastore and cannot be "
                            "re-registered; pick another name")
        url = os.fspath(url)
        if is_local(url):
            folder = Path(local_path(url)).expanduser().resolve()
            if not folder.exists() and create_if_not_exists:
                folder.mkdir(parents=True)
            if not folder.is_dir():
                raise DataError(f"datastore {datastore_name!r}: {folder} is not a folder")
            url = str(folder)
        else:
            filesystem(url)  # fail now if the fsspec implementation is missing
        registry = AssetRegistry(workspace, REGISTRY_KIND)
        if registry.versions(datastore_name) and not overwrite:
            current, _ = registry.get(datastore_name)
            if current.get("url") != url:
                raise DataError(f"datastore {datastore_name!r} is already registered with url "
                                f"{current.get('url')!r}; pass overwrite=True to point it at {url!r}")
        registry.register(datastore_name, {"url": url})
        return Datastore(workspace, datastore_name)

    # -- files --------------------------------------------------------------------------------

    def full_url(self, path: str | None = None, field: str = "path_on_datastore") -> str:
        """The URL of ``path`` on this datastore (checked not to escape the root)."""
        rel = relative_path(path, field)
        return self.url.rstrip("/") + "/" + rel if rel else self.url

    def upload(self, src_dir: str | os.PathLike[str], target_path: str | None = None, overwrite: bool = False,
               show_progress: bool = True) -> DataReference:
        """Copy the files under ``src_dir`` to ``target_path``; existing files are kept unless
        ``overwrite``. Returns a reference to ``target_path``."""
        src = Path(src_dir)
        if not src.is_dir():
            raise DataError(f"upload: {src} is not a folder (use upload_files for single files)")
        files = [p for p in sorted(src.rglob("*")) if p.is_file()]
        self.upload_files([str(p) for p in files], relative_root=str(src), target_path=target_path,
                          overwrite=overwrite, show_progress=show_progress)
        return self.path(target_path)

    def upload_files(self, files: Iterable[str | os.PathLike[str]], relative_root: str | None = None,
                     target_path: str | None = None, overwrite: bool = False,
                     show_progress: bool = True) -> DataReference:
        """Copy ``files`` to ``target_path``, each at its path relative to ``relative_root``
        (default: the file name only)."""
        fs, root = filesystem(self.full_url(target_path, "target_path"))
        planned = []
        for file in files:
            local = Path(file)
            if not local.is_file():
                raise DataError(f"upload_files: {local} does not exist or is not a file")
            rel = local.relative_to(relative_root).as_posix() if relative_root else local.name
            if rel.startswith("../"):
                raise DataError(f"upload_files: {local} is not under relative_root {relative_root}")
            planned.append((local, root.rstrip("/") + "/" + rel, local.stat().st_size))
        copied = skipped = 0
        with Progress(f"Uploading to {self.name}", total=sum(size for *_, size in planned),
                      enabled=show_progress) as progress:
            for local, remote, size in planned:
                if not overwrite and fs.exists(remote):
                    skipped += 1
                else:
                    fs.makedirs(posixpath.dirname(remote), exist_ok=True)
                    fs.put_file(str(local), remote)
                    copied += 1
                progress.advance(size)
        if show_progress:
            print(f"Uploaded {copied} file(s) to {self.name}:{relative_path(target_path, 'target_path') or '/'}"
                  + (f"; skipped {skipped} already there (overwrite=True / --overwrite replaces them)" if skipped else ""))
        return self.path(target_path)

    def download(self, target_path: str | os.PathLike[str], prefix: str | None = None, overwrite: bool = False,
                 show_progress: bool = True) -> int:
        """Copy the files under ``prefix`` into ``target_path`` (keeping their datastore paths);
        return how many were copied."""
        fs, root = filesystem(self.url)
        base = root.rstrip("/")
        rel = relative_path(prefix, "prefix")
        start = f"{base}/{rel}" if rel else base
        try:
            info = fs.info(start)
        except FileNotFoundError:
            info = None
        found = {} if info is None else {start: info} if info["type"] == "file" else fs.find(start, detail=True)
        sizes = {remote: info.get("size") or 0 for remote, info in found.items()}
        copied = 0
        with Progress(f"Downloading from {self.name}", total=sum(sizes.values()), enabled=show_progress) as progress:
            for remote, size in sizes.items():
                dest = Path(target_path) / remote[len(base):].lstrip("/")
                if not dest.exists() or overwrite:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    fs.get_file(remote, str(dest))
                    copied += 1
                progress.advance(size)
        if show_progress:
            print(f"Downloaded {copied} file(s) from {self.name}:{rel or '/'} to {target_path}")
        return copied

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        """A mount-mode reference to ``path`` on this datastore (v1's ``ds.path(...)``)."""
        from scriptrun.data.datapath import DataReference

        return DataReference(self, data_reference_name=data_reference_name, path_on_datastore=path)

    def as_mount(self) -> DataReference:
        return self.path().as_mount()

    def as_download(self, path_on_compute: str | None = None) -> DataReference:
        return self.path().as_download(path_on_compute)

    def __repr__(self) -> str:
        return f"Datastore(name={self.name!r}, url={self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Datastore) and (other.workspace, other.name) == (self.workspace, self.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))


def datastore_url(workspace: Workspace, name: str) -> str:
    """The root URL of the datastore ``name`` in ``workspace``."""
    if name == DEFAULT_DATASTORE:
        folder = workspace.dir / "datastores" / DEFAULT_DATASTORE
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)
    registry = AssetRegistry(workspace, REGISTRY_KIND)
    if not registry.versions(name):
        names = [DEFAULT_DATASTORE, *registry.names()]
        hint = did_you_mean(name, names) or f"known datastores: {', '.join(names)}"
        raise WorkspaceError(f"no datastore named {name!r}; {hint} "
                             "(register one with Datastore.register(ws, name, url))")
    definition, _ = registry.get(name)
    return str(definition["url"])


def name_of_datastore(value: Any) -> str | None:
    """A datastore given as an object or a name → its name (None stays None)."""
    if value is None or isinstance(value, str):
        return value
    name = getattr(value, "name", None)
    if not isinstance(name, str):
        raise ConfigError(Problem("datastore", f"expected a Datastore or a datastore name, got {value!r}"))
    return name
