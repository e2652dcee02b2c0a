"""``PublishedPipeline``: a pipeline registered by name in the workspace (kind ``pipeline``),
to be submitted again later — from Python or ``scriptrun pipeline submit NAME``.

The registry stores the pipeline's YAML mapping (absolute source folders), its description
and the publisher's version label; each distinct definition gets the next integer version.
A submission snapshots the source folders as they are then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scriptrun.pipeline.pipeline_yaml import pipeline_from_mapping, pipeline_to_mapping
from scriptrun.workspace import Workspace
from scriptrun.workspace.registry import AssetRegistry

KIND = "pipeline"


class PublishedPipeline:
    """A published pipeline: ``name`` at registry version ``version``."""

    def __init__(self, workspace: Workspace, name: str, version: int, definition: dict[str, Any]):
        self.workspace = workspace
        self.name = name
        self.version = version
        self.description = definition.get("description")
        self.version_label = definition.get("version_label")
        self.continue_on_step_failure = bool(definition.get("continue_on_step_failure"))
        self._definition = definition

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    @staticmethod
    def get(workspace: Workspace, id: str | None = None, name: str | None = None,  # noqa: A002 - v1 name
            version: int | str | None = None) -> PublishedPipeline:
        """By ``id`` (``name`` or ``name:version``) or by ``name`` (latest version unless given)."""
        ref = id or name or ""
        base, sep, tail = ref.rpartition(":")
        if sep and tail.isdigit() and version is None:
            ref, version = base, tail
        definition, found = AssetRegistry(workspace, KIND).get(ref, version)
        return PublishedPipeline(workspace, ref, found, definition)

    @staticmethod
    def list(workspace: Workspace, active_only: bool = True) -> list[PublishedPipeline]:
        """The latest version of every published pipeline."""
        return [PublishedPipeline(workspace, name, version, definition)
                for name, (definition, version) in AssetRegistry(workspace, KIND).latest().items()]

    get_all = list

    def get_step_names(self) -> list[str]:
        return list(self._definition["pipeline"]["jobs"])

    def to_pipeline(self, workspace: Workspace | None = None) -> Any:
        return pipeline_from_mapping(workspace or self.workspace, dict(self._definition["pipeline"]),
                                     base_dir=Path("/"))

    def submit(self, workspace: Workspace, experiment_name: str, pipeline_parameters: dict[str, Any] | None = None,
               **kwargs: Any) -> Any:
        """Submit this pipeline to ``experiment_name``; returns a ``PipelineRun``."""
        kwargs.setdefault("continue_on_step_failure", self.continue_on_step_failure)
        return self.to_pipeline(workspace).submit(experiment_name, pipeline_parameters=pipeline_parameters, **kwargs)

    def __repr__(self) -> str:
        return f"PublishedPipeline(name={self.name!r}, version={self.version}, description={self.description!r})"


def publish(pipeline: Any, name: str, *, description: str | None = None, version: str | None = None,
            continue_on_step_failure: bool | None = None) -> PublishedPipeline:
    """Register ``pipeline`` (validated) under ``name``."""
    definition = {"description": description if description is not None else pipeline.description,
                  "version_label": version, "continue_on_step_failure": bool(continue_on_step_failure),
                  "pipeline": pipeline_to_mapping(pipeline)}
    registered = AssetRegistry(pipeline.workspace, KIND).register(name, definition)
    return PublishedPipeline(pipeline.workspace, name, registered, definition)
