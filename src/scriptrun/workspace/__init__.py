"""Workspaces: settings, the asset registry and content-addressed source snapshots."""

from scriptrun.workspace.registry import AssetRegistry
from scriptrun.workspace.workspace import Workspace, WorkspaceSettings

__all__ = ["AssetRegistry", "Workspace", "WorkspaceSettings"]
