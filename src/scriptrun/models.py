"""v1's ``Model`` (``azureml.core.model``): registered models with integer versions, tags and
properties, kept in the workspace's MLflow model registry.

The client sends typed requests (``scriptrun.agent.models``) to the workspace's agent, the
single writer of the tracking store. ``register_model_from_run`` is what ``Run.register_model``
delegates to.
"""

from __future__ import annotations

import os
from typing import Any

from scriptrun.agent.client import AgentClient
from scriptrun.agent.protocol import DownloadModel, GetModel, ListModels, RegisterModel
from scriptrun.workspace import Workspace


def _request(workspace: Workspace, request: Any) -> Any:
    return AgentClient(workspace.root, workspace.agent_socket).request(request)


class Model:
    """A registered model version. ``Model(ws, name)`` is the latest version, ``Model(ws, name,
    version=2)`` or ``Model(ws, id="name:2")`` a given one."""

    def __init__(self, workspace: Workspace, name: str | None = None, id: str | None = None,  # noqa: A002
                 tags: Any = None, properties: Any = None, version: int | None = None,
                 run_id: str | None = None, *, _details: dict[str, Any] | None = None):
        if _details is None:
            if id is not None:
                name, _, number = id.partition(":")
                version = int(number) if number else version
            if not name:
                raise ValueError("Model() needs a name or an id ('name:version')")
            _details = _request(workspace, GetModel(name=name, version=version))
        self.workspace = workspace
        self._details = _details

    name = property(lambda self: self._details["name"])
    version = property(lambda self: self._details["version"])
    id = property(lambda self: self._details["id"])
    tags = property(lambda self: dict(self._details["tags"]))
    properties = property(lambda self: dict(self._details["properties"]))
    description = property(lambda self: self._details["description"])
    run_id = property(lambda self: self._details["run_id"])
    url = property(lambda self: self._details["source"])

    @staticmethod
    def register(workspace: Workspace, model_path: str | os.PathLike[str], model_name: str,
                 tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
                 description: str | None = None, **ignored: Any) -> Model:
        """Register a local file or folder as a new version of ``model_name`` (v1's deployment
        arguments — model_framework, sample_input_dataset… — are accepted and ignored)."""
        details = _request(workspace, RegisterModel(
            name=model_name, model_path=os.path.abspath(os.fspath(model_path)), tags=_strings(tags),
            properties=_strings(properties), description=description))
        return Model(workspace, _details=details)

    @staticmethod
    def list(workspace: Workspace, name: str | None = None, tags: Any = None, properties: Any = None,
             run_id: str | None = None, latest: bool = False, **ignored: Any) -> list[Model]:
        """Model versions, newest first. ``tags``/``properties``: ``["key"]`` or ``[["key", "value"]]`` (v1)."""
        rows = _request(workspace, ListModels(name=name, tags=_filters(tags), properties=_filters(properties),
                                              run_id=run_id, latest=latest))
        return [Model(workspace, _details=row) for row in rows]

    def download(self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False, **ignored: Any) -> str:
        """Copy this version's files into ``target_dir``; return the path of the copy."""
        return _request(self.workspace, DownloadModel(name=self.name, version=self.version,
                                                      target_dir=os.path.abspath(os.fspath(target_dir)),
                                                      exist_ok=exist_ok))

    def serialize(self) -> dict[str, Any]:
        return dict(self._details)

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version!r}, run_id={self.run_id!r})"


def register_model_from_run(run_id: str, workspace: Workspace, model_name: str, model_path: str | None = None,
                            tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
                            description: str | None = None, **ignored: Any) -> Model:
    """v1's ``run.register_model``: ``model_path`` is an artifact of the run (``outputs/model.pkl``)."""
    details = _request(workspace, RegisterModel(
        name=model_name, model_path=model_path or "outputs", run_id=run_id, tags=_strings(tags),
        properties=_strings(properties), description=description))
    return Model(workspace, _details=details)


def _strings(values: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


def _filters(values: Any) -> dict[str, str | None]:
    """v1 filters: a dict, ``["key"]`` (present) or ``[["key", "value"]]``."""
    if values is None:
        return {}
    if isinstance(values, dict):
        return {str(k): None if v is None else str(v) for k, v in values.items()}
    out: dict[str, str | None] = {}
    for item in values:
        if isinstance(item, (list, tuple)):
            out[str(item[0])] = str(item[1]) if len(item) > 1 else None
        else:
            out[str(item)] = None
    return out
