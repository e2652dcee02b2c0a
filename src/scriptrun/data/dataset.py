"""Datasets: versioned definitions of files (``FileDataset``) or a table read from files
(``TabularDataset``), v1 §10.1–10.2.

A dataset is a :class:`~scriptrun.spec.job.DatasetSpec`: locations (datastore paths, URLs or
local paths, globs allowed) plus, for a table, a format and its options. ``register`` stores
it in the workspace registry (``AssetRegistry(ws, "datasets")``) with an integer version and a
content **fingerprint** of the files it names at that moment (sha256 of the bytes for local
files, the store's etag/size/mtime for remote ones), so lineage shows which data a run saw.

Registering an existing name needs ``create_new_version=True``; if neither the definition nor
the data changed, the existing version is returned instead of a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scriptrun.data.consumption import DatasetConsumptionConfig
from scriptrun.data.datapath import DataPath
from scriptrun.data.datastore import Datastore, datastore_url, filesystem, is_local, relative_path
from scriptrun.errors import ConfigError, DataError, Problem
from scriptrun.spec.job import DataLocationSpec, DatasetSpec
from scriptrun.spec.problems import did_you_mean
from scriptrun.workspace import AssetRegistry, Workspace

REGISTRY_KIND = "datasets"
_GLOB = ("*", "?", "[")


# -- locations ------------------------------------------------------------------------------


def to_locations(path: Any, field: str = "path") -> tuple[list[DataLocationSpec], Workspace | None]:
    """v1's ``path`` argument (a URL or local path, ``(datastore, "path")``, a ``DataPath``,
    or a list of those) → locations, and the workspace a datastore came from."""
    items = path if isinstance(path, list) else [path]
    out: list[DataLocationSpec] = []
    workspace: Workspace | None = None
    for i, item in enumerate(items):
        where = f"{field}[{i}]" if isinstance(path, list) else field
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Datastore):
            out.append(DataLocationSpec(datastore=item[0].name, path=relative_path(item[1], where)))
            workspace = item[0].workspace
        elif isinstance(item, DataPath):
            out.append(item._location())
            workspace = item._datastore().workspace
        elif isinstance(item, (str, os.PathLike)):
            text = os.fspath(item)
            url = text if not is_local(text) else str(Path(text.split("://", 1)[-1]).expanduser().absolute())
            out.append(DataLocationSpec(url=url))
        else:
            raise ConfigError(Problem(where, f"expected a path, a URL, (datastore, 'path') or a DataPath, "
                                      f"got {type(item).__name__}"))
    if not out:
        raise ConfigError(Problem(field, "no path given"))
    return out, workspace


def location_url(location: DataLocationSpec, workspace: Workspace | None) -> str:
    if location.url is not None:
        return location.url
    if workspace is None:
        workspace = Workspace.from_config()
    root = datastore_url(workspace, location.datastore or "workspaceblobstore")
    return root.rstrip("/") + ("/" + location.path if location.path else "")


def expand(location: DataLocationSpec, workspace: Workspace | None) -> tuple[Any, str, list[str]]:
    """(filesystem, root, files) of a location: ``root`` is the folder the files' relative
    paths start from. A glob that matches nothing or a missing path raises DataError."""
    url = location_url(location, workspace)
    fs, path = filesystem(url)
    if any(ch in path for ch in _GLOB):
        files = sorted(p for p in fs.glob(path) if fs.isfile(p))
        prefix = path[: min(path.index(ch) for ch in _GLOB if ch in path)]
        root = prefix if prefix.endswith("/") else posixpath.dirname(prefix)
        if not files:
            raise DataError(f"{url}: the pattern matches no file")
        return fs, root.rstrip("/"), files
    if not fs.exists(path):
        raise DataError(f"{url} does not exist")
    if fs.isdir(path):
        return fs, path.rstrip("/"), sorted(fs.find(path))
    return fs, posixpath.dirname(path), [path]


def copy_dataset(spec: DatasetSpec, workspace: Workspace | None, target: Path, *, overwrite: bool = False,
                 ignore_not_found: bool = False) -> list[str]:
    """Copy every file of ``spec`` into ``target`` (keeping paths below each location's root)."""
    out = []
    for location in spec.paths:
        try:
            fs, root, files = expand(location, workspace)
        except DataError:
            if ignore_not_found:
                continue
            raise
        for file in files:
            rel = file[len(root):].lstrip("/") if file.startswith(root + "/") else os.path.basename(file)
            dest = target / rel
            if overwrite or not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(file, str(dest))
            out.append(str(dest))
    return out


def is_local_filesystem(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def fingerprint(spec: DatasetSpec, workspace: Workspace | None) -> str:
    """A content hash of the files ``spec`` names (bytes for local files, etag/size/mtime
    for remote ones) and of how they are read."""
    h = hashlib.sha256()
    h.update(json.dumps({"type": spec.type, "format": spec.format, "options": spec.options},
                        sort_keys=True).encode())
    for location in spec.paths:
        fs, root, files = expand(location, workspace)
        for file in files:
            h.update(f"\0{file[len(root):]}\0".encode())
            if is_local_filesystem(fs):
                with open(file, "rb") as fh:
                    for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        h.update(chunk)
            else:
                info = fs.info(file)
                stamp = {k: str(info.get(k)) for k in ("ETag", "etag", "md5", "size", "mtime", "LastModified")
                         if info.get(k) is not None}
                h.update(json.dumps(stamp, sort_keys=True).encode())
    return h.hexdigest()[:32]


# -- datasets -------------------------------------------------------------------------------


class AbstractDataset:
    """A dataset definition, registered (``name``/``version`` set) or not."""

    def __init__(self, spec: DatasetSpec, workspace: Workspace | None = None, *,
                 description: str | None = None, tags: dict[str, str] | None = None):
        self._spec = spec
        self._workspace = workspace
        self.description = description
        self.tags = dict(tags or {})

    @property
    def name(self) -> str | None:
        return self._spec.name

    @property
    def version(self) -> int | None:
        return self._spec.version

    @property
    def fingerprint(self) -> str | None:
        return self._spec.fingerprint

    @property
    def id(self) -> str:
        """``name:version`` when registered, else ``unregistered:<hash of the definition>``."""
        if self.name is not None:
            return f"{self.name}:{self.version}"
        body = self._spec.model_dump_json(exclude={"name", "version", "fingerprint"})
        return "unregistered:" + hashlib.sha256(body.encode()).hexdigest()[:16]

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace.from_config()
        return self._workspace

    def register(self, workspace: Workspace, name: str, description: str | None = None,
                 tags: dict[str, str] | None = None, create_new_version: bool = False) -> AbstractDataset:
        """Register under ``name`` with the next integer version and a content fingerprint.

        An existing ``name`` needs ``create_new_version=True``; an identical definition over
        identical data returns the existing version."""
        self._workspace = self._workspace or workspace
        registry = AssetRegistry(workspace, REGISTRY_KIND)
        existing = registry.versions(name)
        if existing and not create_new_version:
            raise DataError(f"dataset {name!r} is already registered (latest version {existing[-1]}); "
                            "pass create_new_version=True to add a version")
        spec = self._spec.model_copy(update={"name": None, "version": None, "fingerprint": None})
        definition = {
            **spec.model_dump(mode="json", exclude_defaults=True, exclude={"name", "version", "fingerprint"}),
            "type": spec.type,
            "fingerprint": fingerprint(spec, workspace),
            "description": description if description is not None else self.description,
            "tags": dict(tags if tags is not None else self.tags),
        }
        version = registry.register(name, definition)
        return dataset_from_definition(definition, name, version, workspace)

    def as_named_input(self, name: str) -> Any:
        """Consume this dataset as input ``name`` in direct mode (see ``as_mount``/``as_download``)."""
        return DatasetConsumptionConfig(name, self)

    # -- lookup (v1 static names) -------------------------------------------------------------

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: int | str = "latest") -> AbstractDataset:
        registry = AssetRegistry(workspace, REGISTRY_KIND)
        if not registry.versions(name):
            hint = did_you_mean(name, registry.names())
            raise DataError(f"no dataset named {name!r} in workspace {workspace.root}" + (f"; {hint}" if hint else ""))
        try:
            definition, found = registry.get(name, None if version == "latest" else version)
        except Exception as exc:  # noqa: BLE001 - WorkspaceError for a bad version, reworded
            raise DataError(str(exc)) from None
        return dataset_from_definition(definition, name, found, workspace)

    @staticmethod
    def get_by_id(workspace: Workspace, id: str) -> AbstractDataset:  # noqa: A002 - v1 name
        name, _, version = id.rpartition(":")
        if not name:
            raise DataError(f"{id!r} is not a dataset id (expected 'name:version')")
        return AbstractDataset.get_by_name(workspace, name, version)

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, AbstractDataset]:
        return {name: dataset_from_definition(definition, name, version, workspace)
                for name, (definition, version) in AssetRegistry(workspace, REGISTRY_KIND).latest().items()}

    def files(self) -> list[str]:
        """The URLs/paths of every file this dataset names now."""
        return [file for location in self._spec.paths for file in expand(location, self._workspace)[2]]

    def __repr__(self) -> str:
        kind = type(self).__name__
        if self.name:
            return f"{kind}(name={self.name!r}, version={self.version}, fingerprint={self.fingerprint!r})"
        return f"{kind}(paths={[p.model_dump(exclude_defaults=True) for p in self._spec.paths]})"


class FileDataset(AbstractDataset):
    """Files (one or many, from datastores or URLs) delivered to a job as a folder or a file."""

    def as_mount(self, path_on_compute: str | None = None) -> Any:
        return DatasetConsumptionConfig(_auto_name(self), self, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> Any:
        return DatasetConsumptionConfig(_auto_name(self), self, "download", path_on_compute)

    def download(self, target_path: str | os.PathLike[str] | None = None, overwrite: bool = False,
                 ignore_not_found: bool = False) -> list[str]:
        """Copy the files into ``target_path`` (default: a new temporary folder); return their paths."""
        target = Path(target_path) if target_path is not None else Path(_tempdir())
        return copy_dataset(self._spec, self._workspace, target, overwrite=overwrite,
                            ignore_not_found=ignore_not_found)

    def to_path(self) -> list[str]:
        """The files' paths relative to the dataset's root folder(s), v1 style (``/a.csv``)."""
        out = []
        for location in self._spec.paths:
            _, root, files = expand(location, self._workspace)
            out += [f[len(root):] if f.startswith(root + "/") else "/" + posixpath.basename(f) for f in files]
        return out


class TabularDataset(AbstractDataset):
    """A table read from delimited, parquet or JSON-lines files (consumed in direct mode)."""

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null") -> Any:
        try:
            import pandas as pd
        except ImportError:
            raise DataError("to_pandas_dataframe() needs pandas: pip install 'scriptrun[tabular]' "
                            "(or add pandas to the job's environment)") from None
        frames = []
        options = self._spec.options
        limit = options.get("take")
        rows = 0
        for location in self._spec.paths:
            fs, root, files = expand(location, self._workspace)
            for file in files:
                if limit is not None and frames and rows >= limit:
                    break  # enough rows (one file is always read, for the columns)
                with fs.open(file, "rb") as fh:
                    frame = _read_table(pd, self._spec.format, fh, options)
                if options.get("include_path"):
                    frame.insert(0, "Path", file[len(root):] or posixpath.basename(file))
                frames.append(frame)
                rows += len(frame)
        if limit is not None and frames:
            return pd.concat(frames, ignore_index=True).head(limit)
        if not frames:
            return pd.DataFrame()
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def take(self, count: int) -> TabularDataset:
        """A dataset of the first ``count`` records of this one (v1; lazy: recorded in the
        definition, applied when the table is read)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(Problem("count", f"take(count): expected a whole number >= 0, got {count!r}"))
        current = self._spec.options.get("take")
        options = {**self._spec.options, "take": count if current is None else min(current, count)}
        spec = self._spec.model_copy(update={"options": options, "name": None, "version": None,
                                             "fingerprint": None})
        return TabularDataset(spec, self._workspace, description=self.description, tags=self.tags)

    def as_mount(self, path_on_compute: str | None = None) -> Any:
        raise ConfigError(Problem("mode", "a tabular dataset cannot be mounted",
                                  hint="use as_named_input(name) (direct mode) and read it with "
                                       "Run.get_context().input_datasets[name].to_pandas_dataframe()"))

    as_download = as_mount


def _read_table(pd: Any, fmt: str | None, fh: Any, options: dict[str, Any]) -> Any:
    if fmt == "parquet":
        return pd.read_parquet(fh)
    if fmt == "json_lines":
        return pd.read_json(fh, lines=True, encoding=options.get("encoding", "utf8"))
    return pd.read_csv(fh, sep=options.get("separator", ","), header=0 if options.get("header", True) else None,
                       encoding=options.get("encoding", "utf8"))


def _auto_name(dataset: AbstractDataset) -> str:
    return f"input__{hashlib.sha256(dataset.id.encode()).hexdigest()[:8] if dataset.name else uuid.uuid4().hex[:8]}"


def _tempdir() -> str:
    return tempfile.mkdtemp(prefix="scriptrun-dataset-")


def dataset_from_spec(spec: DatasetSpec, workspace: Workspace | None = None) -> AbstractDataset:
    cls = TabularDataset if spec.type == "tabular" else FileDataset
    return cls(spec, workspace)


def dataset_from_definition(definition: dict[str, Any], name: str, version: int,
                            workspace: Workspace | None) -> AbstractDataset:
    data = {k: v for k, v in definition.items() if k not in ("description", "tags")}
    spec = DatasetSpec.model_validate({**data, "name": name, "version": version})
    cls = TabularDataset if spec.type == "tabular" else FileDataset
    return cls(spec, workspace, description=definition.get("description"), tags=definition.get("tags"))


# -- factories (Dataset.File / Dataset.Tabular) -----------------------------------------------


def _create(cls: type[AbstractDataset], path: Any, validate: bool, **fields: Any) -> Any:
    locations, workspace = to_locations(path)
    spec = DatasetSpec(paths=locations, **fields)
    if validate:
        for i, location in enumerate(locations):
            try:
                expand(location, workspace)
            except DataError as exc:
                where = f"path[{i}]" if isinstance(path, list) else "path"
                raise ConfigError(Problem(where, str(exc), hint="check the path, or pass validate=False to "
                                                                "create the dataset before the data exists"))
    return cls(spec, workspace)


class FileDatasetFactory:
    """``Dataset.File``."""

    @staticmethod
    def from_files(path: Any, validate: bool = True, partition_format: str | None = None,
                   is_file: bool = False) -> FileDataset:
        return _create(FileDataset, path, validate, type="file")

    @staticmethod
    def upload_directory(src_dir: str | os.PathLike[str], target: Any, pattern: str | None = None,
                         overwrite: bool = False, show_progress: bool = True) -> FileDataset:
        """Upload ``src_dir`` to ``target`` = ``(datastore, "path")``; return a FileDataset of it."""
        if not (isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], Datastore)):
            raise ConfigError(Problem("target", f"expected (datastore, 'path'), got {target!r}"))
        store, path = target
        src = Path(src_dir)
        if not src.is_dir():
            raise ConfigError(Problem("src_dir", f"{src} is not a folder"))
        files: Iterable[Path] = (p for p in sorted(src.rglob(pattern or "*")) if p.is_file())
        store.upload_files([str(p) for p in files], relative_root=str(src), target_path=path,
                           overwrite=overwrite, show_progress=show_progress)
        return FileDatasetFactory.from_files((store, path))


class TabularDatasetFactory:
    """``Dataset.Tabular``."""

    @staticmethod
    def from_delimited_files(path: Any, validate: bool = True, include_path: bool = False,
                             infer_column_types: bool = True, set_column_types: Any = None, separator: str = ",",
                             header: bool = True, partition_format: str | None = None,
                             support_multi_line: bool = False, empty_as_string: bool = False,
                             encoding: str = "utf8") -> TabularDataset:
        options = {k: v for k, v in {"separator": separator, "header": header, "include_path": include_path,
                                     "encoding": encoding}.items()
                   if v != {"separator": ",", "header": True, "include_path": False, "encoding": "utf8"}[k]}
        return _create(TabularDataset, path, validate, type="tabular", format="delimited", options=options)

    @staticmethod
    def from_parquet_files(path: Any, validate: bool = True, include_path: bool = False,
                           set_column_types: Any = None, partition_format: str | None = None) -> TabularDataset:
        options = {"include_path": True} if include_path else {}
        return _create(TabularDataset, path, validate, type="tabular", format="parquet", options=options)

    @staticmethod
    def from_json_lines_files(path: Any, validate: bool = True, include_path: bool = False,
                              set_column_types: Any = None, partition_format: str | None = None,
                              invalid_lines: str = "error", encoding: str = "utf8") -> TabularDataset:
        options: dict[str, Any] = {"include_path": True} if include_path else {}
        if encoding != "utf8":
            options["encoding"] = encoding
        return _create(TabularDataset, path, validate, type="tabular", format="json_lines", options=options)


class Dataset:
    """v1's ``Dataset``: the factories ``Dataset.File`` and ``Dataset.Tabular``, and lookup."""

    File = FileDatasetFactory
    Tabular = TabularDatasetFactory
    get_by_name = staticmethod(AbstractDataset.get_by_name)
    get_by_id = staticmethod(AbstractDataset.get_by_id)
    get_all = staticmethod(AbstractDataset.get_all)
