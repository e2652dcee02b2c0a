"""``scriptrun datastore list|register|upload|download`` and ``scriptrun dataset list|show|register``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

datastore_app = typer.Typer(no_args_is_help=True, help="Named storage roots (local folders or fsspec URLs).")
dataset_app = typer.Typer(no_args_is_help=True, help="Registered, versioned datasets.")
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)

WorkspaceOpt = typer.Option(None, "--workspace", "-w", help="Workspace folder (default: found from the current folder).")
DatastoreOpt = typer.Option(None, "--datastore", "-d", help="Datastore (default: workspaceblobstore).")


def _workspace(path: Optional[Path]):
    from scriptrun.workspace import Workspace

    return Workspace.get(path) if path is not None else Workspace.resolve()


def _store(workspace: Optional[Path], name: Optional[str]):
    from scriptrun.data import Datastore

    return Datastore(_workspace(workspace), name)


# -- datastore -----------------------------------------------------------------------------------


@datastore_app.command("list")
def list_datastores(workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Every datastore and its URL."""
    from scriptrun.data import Datastore

    table = Table("Name", "Type", "URL")
    for name, store in Datastore.list(_workspace(workspace)).items():
        table.add_row(name, store.datastore_type, store.url)
    out.print(table)


@datastore_app.command("register")
def register_datastore(name: str, url: str = typer.Argument(..., help="A local folder or an fsspec URL "
                                                                      "(s3://…, gs://…, az://…)."),
                       overwrite: bool = typer.Option(False, "--overwrite", help="Re-point an existing name."),
                       workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Register a datastore."""
    from scriptrun.data import Datastore

    store = Datastore.register(_workspace(workspace), name, url, overwrite=overwrite)
    out.print(f"registered datastore {store.name} -> {store.url}")


@datastore_app.command("upload")
def upload(src: Path = typer.Argument(..., help="A folder or a file."),
           target_path: Optional[str] = typer.Option(None, "--target-path", "-p", help="Path on the datastore."),
           datastore: Optional[str] = DatastoreOpt,
           overwrite: bool = typer.Option(False, "--overwrite", help="Replace files that exist."),
           workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Upload a folder (or a file) to a datastore."""
    store = _store(workspace, datastore)
    if src.is_file():
        store.upload_files([str(src)], target_path=target_path, overwrite=overwrite)
    else:
        store.upload(str(src), target_path=target_path, overwrite=overwrite)


@datastore_app.command("download")
def download(target: Path = typer.Argument(..., help="Local folder to download into."),
             prefix: Optional[str] = typer.Option(None, "--prefix", "-p", help="Only this path on the datastore."),
             datastore: Optional[str] = DatastoreOpt,
             overwrite: bool = typer.Option(False, "--overwrite", help="Replace files that exist."),
             workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Download a datastore's files (under --prefix) into a folder."""
    _store(workspace, datastore).download(str(target), prefix=prefix, overwrite=overwrite)


# -- dataset -------------------------------------------------------------------------------------


@dataset_app.command("list")
def list_datasets(workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Every registered dataset with its latest version and fingerprint."""
    from scriptrun.data import Dataset

    table = Table("Name", "Version", "Type", "Fingerprint", "Description")
    for name, ds in sorted(Dataset.get_all(_workspace(workspace)).items()):
        table.add_row(name, str(ds.version), ds._spec.type, ds.fingerprint or "", ds.description or "")
    out.print(table)


@dataset_app.command("show")
def show_dataset(name: str, version: str = typer.Option("latest", "--version", "-v"),
                 workspace: Optional[Path] = WorkspaceOpt) -> None:
    """A dataset's definition and files as JSON."""
    from scriptrun.data import Dataset

    ds = Dataset.get_by_name(_workspace(workspace), name, version)
    out.print_json(json.dumps({**ds._spec.model_dump(mode="json", exclude_defaults=True),
                               "description": ds.description, "tags": ds.tags, "files": ds.files()}))


@dataset_app.command("register")
def register_dataset(name: str, paths: list[str] = typer.Argument(..., help="Paths on --datastore, or "
                                                                            "URLs/local paths with --url."),
                     datastore: Optional[str] = DatastoreOpt,
                     url: bool = typer.Option(False, "--url", help="PATHS are URLs or local paths."),
                     tabular: Optional[str] = typer.Option(None, "--tabular", help="Register a table read "
                                                           "from the files: delimited, parquet or json_lines."),
                     description: Optional[str] = typer.Option(None, "--description"),
                     create_new_version: bool = typer.Option(False, "--create-new-version",
                                                             help="Add a version to an existing name."),
                     workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Register a file (or tabular) dataset with a content fingerprint."""
    from scriptrun.data import Dataset

    ws = _workspace(workspace)
    locations = list(paths) if url else [(_store(workspace, datastore), p) for p in paths]
    factories = {"delimited": Dataset.Tabular.from_delimited_files, "parquet": Dataset.Tabular.from_parquet_files,
                 "json_lines": Dataset.Tabular.from_json_lines_files, None: Dataset.File.from_files}
    if tabular not in factories:
        raise typer.BadParameter("use delimited, parquet or json_lines", param_hint="--tabular")
    ds = factories[tabular](locations).register(ws, name, description=description,
                                                create_new_version=create_new_version)
    out.print(f"registered {ds.id} (fingerprint {ds.fingerprint})")
