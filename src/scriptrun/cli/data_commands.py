"""``scriptrun datastore list|register|upload|download`` and ``scriptrun dataset list|show|register``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from scriptrun.cli.common import Output, OutputOpt, WorkspaceOpt, emit, make_table, out
from scriptrun.cli.common import workspace as _workspace

datastore_app = typer.Typer(no_args_is_help=True, help="Named storage roots (local folders or fsspec URLs).")
dataset_app = typer.Typer(no_args_is_help=True, help="Registered, versioned datasets.")


DatastoreOpt = typer.Option(None, "--datastore", "-d", help="Datastore (default: workspaceblobstore).")


def _store(workspace: Optional[Path], name: Optional[str]):
    from scriptrun.data import Datastore

    return Datastore(_workspace(workspace, create=True), name)


# -- datastore -----------------------------------------------------------------------------------


@datastore_app.command("list")
def list_datastores(output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Every datastore and its URL."""
    from scriptrun.data import Datastore

    rows = [{"name": name, "type": store.datastore_type, "url": store.url}
            for name, store in Datastore.list(_workspace(workspace, create=True)).items()]

    def table() -> None:
        t = make_table("Name", "Type", "URL")
        for row in rows:
            t.add_row(row["name"], row["type"], row["url"])
        t.print()

    emit(rows, output, table)


@datastore_app.command("register")
def register_datastore(name: str, url: str = typer.Argument(..., help="A local folder or an fsspec URL "
                                                                      "(s3://…, gs://…, az://…)."),
                       overwrite: bool = typer.Option(False, "--overwrite", help="Re-point an existing name."),
                       workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Register a datastore."""
    from scriptrun.data import Datastore

    store = Datastore.register(_workspace(workspace, create=True), name, url, overwrite=overwrite)
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
def list_datasets(output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Every registered dataset with its latest version and fingerprint."""
    from scriptrun.data import Dataset

    rows = [{"name": name, "version": ds.version, "type": ds._spec.type, "fingerprint": ds.fingerprint,
             "description": ds.description}
            for name, ds in sorted(Dataset.get_all(_workspace(workspace, create=True)).items())]

    def table() -> None:
        t = make_table("Name", "Version", "Type", "Fingerprint", "Description")
        for row in rows:
            t.add_row(row["name"], str(row["version"]), row["type"], row["fingerprint"] or "",
                      row["description"] or "")
        t.print()

    emit(rows, output, table)


@dataset_app.command("show")
def show_dataset(name: str, version: str = typer.Option("latest", "--version", "-v"),
                 output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """A dataset's definition and files (YAML unless -o json)."""
    from scriptrun.data import Dataset

    ds = Dataset.get_by_name(_workspace(workspace, create=True), name, version)
    data = {**ds._spec.model_dump(mode="json", exclude_defaults=True), "description": ds.description,
            "tags": ds.tags, "files": ds.files()}
    emit(data, Output.yaml if output is Output.table else output, lambda: None)


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

    ws = _workspace(workspace, create=True)
    locations = list(paths) if url else [(_store(workspace, datastore), p) for p in paths]
    factories = {"delimited": Dataset.Tabular.from_delimited_files, "parquet": Dataset.Tabular.from_parquet_files,
                 "json_lines": Dataset.Tabular.from_json_lines_files, None: Dataset.File.from_files}
    if tabular not in factories:
        raise typer.BadParameter("use delimited, parquet or json_lines", param_hint="--tabular")
    ds = factories[tabular](locations).register(ws, name, description=description,
                                                create_new_version=create_new_version)
    out.print(f"registered {ds.id} (fingerprint {ds.fingerprint})")
