"""Compute targets: where a job runs. ``"local"`` is built in; others are attached to the
workspace by name (stored in its asset registry, kind ``compute``).

    cluster = ComputeTarget.attach(ws, "ray-dev", RayCluster.attach_configuration(address="http://127.0.0.1:8265"))
    src = ScriptRunConfig("project", "train.py", compute_target=cluster)   # or compute_target="ray-dev"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from scriptrun.errors import ConfigError, Problem, WorkspaceError
from scriptrun.workspace import AssetRegistry, Workspace

KIND = "compute"
RAY = "RayCluster"


@dataclass(frozen=True)
class RayClusterAttachConfiguration:
    """How to reach a Ray cluster: the address of its dashboard (Jobs API), e.g. ``http://head:8265``."""

    address: str
    shared_filesystem: bool | None = None

    def to_definition(self) -> dict[str, Any]:
        definition: dict[str, Any] = {"type": RAY, "address": self.address}
        if self.shared_filesystem is not None:
            definition["shared_filesystem"] = self.shared_filesystem
        return definition


class ComputeTarget:
    """A named compute target attached to a workspace. ``ComputeTarget(ws, name)`` loads it."""

    def __init__(self, workspace: Workspace, name: str):
        definition, version = AssetRegistry(workspace, KIND).get(name)
        self.workspace = workspace
        self.name = name
        self.version = version
        self.type: str = definition.get("type", "")
        self.definition = definition

    @staticmethod
    def attach(workspace: Workspace, name: str, attach_configuration: RayClusterAttachConfiguration) -> ComputeTarget:
        """Attach a target under ``name`` (attaching again with new settings updates it)."""
        if name == "local":
            raise ConfigError(Problem("name", "`local` is the built-in target and cannot be attached",
                                      hint="choose another name, e.g. 'ray-dev'"))
        AssetRegistry(workspace, KIND).register(name, attach_configuration.to_definition())
        return ComputeTarget(workspace, name)

    @staticmethod
    def list(workspace: Workspace) -> list[ComputeTarget]:
        return [ComputeTarget(workspace, name) for name in AssetRegistry(workspace, KIND).names()]

    def detach(self) -> None:
        AssetRegistry(self.workspace, KIND).delete(self.name)

    @property
    def address(self) -> str | None:
        return self.definition.get("address")

    def __repr__(self) -> str:
        return f"ComputeTarget(name={self.name!r}, type={self.type!r}, address={self.address!r})"


class RayCluster(ComputeTarget):
    """A Ray cluster, reached through its Jobs API."""

    @staticmethod
    def attach_configuration(address: str, shared_filesystem: bool | None = None) -> RayClusterAttachConfiguration:
        """``address``: the head's dashboard. ``shared_filesystem``: whether the cluster's nodes
        see this workspace's folder at the same path (a local cluster does); by default it is
        detected per run. Without it, outputs, logs and metrics travel through the tracking
        store, which must then be a server the cluster can reach."""
        parsed = urlparse(address if "://" in address else f"http://{address}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(Problem("address", f"{address!r} is not a Ray dashboard address",
                                      hint="give the head node's dashboard, e.g. http://127.0.0.1:8265"))
        return RayClusterAttachConfiguration(address=f"{parsed.scheme}://{parsed.netloc}",
                                             shared_filesystem=shared_filesystem)


def target_definitions(workspace: Workspace) -> dict[str, dict[str, Any]]:
    """Every attached target's definition, by name (what submit-time checks need)."""
    registry = AssetRegistry(workspace, KIND)
    out = {}
    for name in registry.names():
        try:
            out[name] = registry.get(name)[0]
        except WorkspaceError:
            continue
    return out
