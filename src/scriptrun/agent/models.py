"""v1's model registry (``Model.register``, ``run.register_model``, ``Model.list``,
``Model(ws, name)``, ``model.download``) on MLflow's model registry: the agent's side.

The requests (``RegisterModel``… in :mod:`scriptrun.agent.protocol`) travel from the client
(``scriptrun.models``) to the agent, the single writer of the tracking store, whose handlers
call the functions here with its ``MlflowClient``. A model is a registered model with integer versions (v1's), its tags as
MLflow tags and its v1 ``properties`` as tags prefixed ``scriptrun.property.``. Files
registered from a local path (not a run's artifact) are copied into the workspace's
artifact root under ``models/<name>/<version>/`` first, so a version never changes.

Nothing here imports MLflow: the functions take the client.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from scriptrun.agent.protocol import DownloadModel, GetModel, ListModels, RegisterModel
from scriptrun.errors import RunError

PROPERTY_PREFIX = "scriptrun.property."




def _as_dict(version: Any) -> dict[str, Any]:
    tags = dict(version.tags or {})
    return {
        "name": version.name, "version": int(version.version), "id": f"{version.name}:{version.version}",
        "run_id": version.run_id or None, "source": version.source, "description": version.description or "",
        "created_time": version.creation_timestamp,
        "tags": {k: v for k, v in tags.items() if not k.startswith(PROPERTY_PREFIX)},
        "properties": {k[len(PROPERTY_PREFIX):]: v for k, v in tags.items() if k.startswith(PROPERTY_PREFIX)},
    }


def _versions(client: Any, name: str | None) -> list[Any]:
    filter_string = f"name='{name}'" if name else ""
    return list(client.search_model_versions(filter_string))


def register_model(client: Any, request: RegisterModel, *, artifact_root: str | os.PathLike[str]) -> dict[str, Any]:
    """Create ``request.name`` if needed and add a version; return it as v1 sees a Model."""
    from mlflow.exceptions import MlflowException  # the caller holds a client, so mlflow is loaded

    try:
        client.create_registered_model(request.name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    tags = {**request.tags, **{PROPERTY_PREFIX + k: v for k, v in request.properties.items()}}
    if request.run_id:
        run = client.get_run(request.run_id)
        source = f"{run.info.artifact_uri.rstrip('/')}/{request.model_path.strip('/')}"
        local = _local_path(source)
        if local is not None and not os.path.exists(local):
            raise RunError(f"run {request.run_id} has no artifact {request.model_path!r}: upload it first "
                           "(files in ./outputs are uploaded when the run ends)")
    else:
        path = Path(request.model_path)
        if not path.exists():
            raise RunError(f"model_path {request.model_path!r} does not exist")
        number = 1 + max((int(v.version) for v in _versions(client, request.name)), default=0)
        target = Path(artifact_root) / "models" / request.name / str(number) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, target)
        source = target.as_uri()
    version = client.create_model_version(request.name, source, run_id=request.run_id, tags=tags,
                                          description=request.description)
    return _as_dict(client.get_model_version(request.name, version.version))


def list_models(client: Any, request: ListModels) -> list[dict[str, Any]]:
    """v1's ``Model.list``: filter by name, tags (``None`` value: the key is present), properties, run."""
    out = []
    for version in _versions(client, request.name):
        model = _as_dict(version)
        if request.run_id and model["run_id"] != request.run_id:
            continue
        if not all(k in model["tags"] and (v is None or model["tags"][k] == v) for k, v in request.tags.items()):
            continue
        if not all(k in model["properties"] and (v is None or model["properties"][k] == v)
                   for k, v in request.properties.items()):
            continue
        out.append(model)
    out.sort(key=lambda m: (m["name"], -m["version"]))
    if request.latest:
        seen: set[str] = set()
        out = [m for m in out if not (m["name"] in seen or seen.add(m["name"]))]
    return out


def get_model(client: Any, request: GetModel) -> dict[str, Any]:
    versions = list_models(client, ListModels(name=request.name))
    if request.version is not None:
        versions = [m for m in versions if m["version"] == request.version]
    if not versions:
        which = f" version {request.version}" if request.version is not None else ""
        raise RunError(f"no model named {request.name!r}{which} in this workspace")
    return versions[0]


def download_model(client: Any, request: DownloadModel) -> str:
    """Copy the version's files into ``target_dir``; return the path of the copy."""
    model = get_model(client, GetModel(name=request.name, version=request.version))
    target_dir = Path(request.target_dir)
    local = _local_path(model["source"])
    name = Path(local).name if local else model["source"].rstrip("/").rsplit("/", 1)[-1]
    destination = target_dir / name
    if destination.exists() and not request.exist_ok:
        raise RunError(f"{destination} exists: pass exist_ok=True to overwrite it")
    target_dir.mkdir(parents=True, exist_ok=True)
    if local is not None:
        if os.path.isdir(local):
            shutil.copytree(local, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(local, destination)
        return str(destination)
    import mlflow.artifacts

    return mlflow.artifacts.download_artifacts(artifact_uri=model["source"], dst_path=str(target_dir))


def _local_path(uri: str) -> str | None:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if parsed.scheme == "" and uri.startswith("/"):
        return uri
    return None
