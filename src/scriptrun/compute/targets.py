"""Compute targets: where a job runs. ``"local"`` is built in; others are attached to the
workspace by name (stored in its asset registry, kind ``compute``).

    cluster = ComputeTarget.attach(ws, "ray-dev", RayCluster.attach_configuration(address="http://127.0.0.1:8265"))
    src = ScriptRunConfig("project", "train.py", compute_target=cluster)   # or compute_target="ray-dev"

v1's cluster names (``cpu-cluster``) can be mapped to ``local`` or an attached target by the
workspace setting ``compute_aliases: {cpu-cluster: local}``; v1's provisioning idiom
(``ComputeTarget(ws, name)`` → ``ComputeTargetException`` → ``ComputeTarget.create(ws, name,
AmlCompute.provisioning_configuration(...))``) then finds the target, and otherwise says how to
map the name (nothing is provisioned: there is no cloud).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from scriptrun.compute.backend import ArtifactSource, ComputeBackend
from scriptrun.compute.local import LocalBackend
from scriptrun.compute.ray_backend import RayBackend
from scriptrun.errors import ConfigError, Problem, WorkspaceError
from scriptrun.spec.job import LOCAL_TARGET
from scriptrun.workspace import AssetRegistry, Workspace

KIND = "compute"
RAY = "RayCluster"
LOCAL = "local"


class ComputeTargetException(WorkspaceError):
    """v1's error for a compute target that does not exist or cannot be created."""


def _how_to_map(name: str) -> str:
    return (f"attach a Ray cluster under that name (`scriptrun compute attach-ray {name} --address "
            f"http://HEAD:8265`), map it to this machine in .scriptrun/config.yaml (`compute_aliases: "
            f"{{{name}: local}}`), or submit with compute_target='local'")


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
    """A named compute target of a workspace. ``ComputeTarget(ws, name)`` loads it: ``"local"``,
    an attached target, or a name mapped by ``compute_aliases``; any other name raises
    :class:`ComputeTargetException` (v1's provisioning idiom relies on that)."""

    def __init__(self, workspace: Workspace, name: str):
        resolved = resolve_compute_name(workspace, name)
        if resolved == LOCAL_TARGET:
            definition, version = {"type": LOCAL}, 1
        else:
            try:
                definition, version = AssetRegistry(workspace, KIND).get(resolved)
            except WorkspaceError:
                via = f" (compute_aliases maps {name!r} to it)" if resolved != name else ""
                raise ComputeTargetException(f"no compute target named {resolved!r} in workspace "
                                             f"{workspace.root}{via}: {_how_to_map(resolved)}") from None
        self.workspace = workspace
        self.name = name
        self.version = version
        self.type: str = definition.get("type", "")
        self.definition = definition
        self.provisioning_state = "Succeeded"

    @staticmethod
    def create(workspace: Workspace, name: str, provisioning_configuration: Any) -> ComputeTarget:
        """v1: provision a cluster. Nothing is provisioned locally: a name that is attached or
        mapped by ``compute_aliases`` is returned, any other raises with how to map it."""
        try:
            return ComputeTarget(workspace, name)
        except ComputeTargetException:
            raise ComputeTargetException(f"cannot create compute target {name!r}: scriptrun provisions no "
                                         f"cloud clusters; {_how_to_map(name)}") from None

    def wait_for_completion(self, show_output: bool = False, min_node_count: int | None = None,
                            timeout_in_minutes: int = 20, is_delete_operation: bool = False) -> None:
        """v1: wait for provisioning. A local or attached target is ready: returns at once."""
        if show_output:
            print(f"compute target {self.name!r} ({self.type}) is ready")

    def get_status(self) -> str:
        return self.provisioning_state

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


@dataclass(frozen=True)
class AmlComputeProvisioningConfiguration:
    """v1's cluster provisioning settings, kept only so that v1 code runs (nothing is provisioned)."""

    vm_size: str = ""
    vm_priority: str = "dedicated"
    min_nodes: int = 0
    max_nodes: int = 4
    idle_seconds_before_scaledown: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()


class AmlCompute(ComputeTarget):
    """v1's Azure ML cluster. Locally it is only a name: map it with ``compute_aliases`` or
    attach a Ray cluster under it (see :meth:`ComputeTarget.create`)."""

    @staticmethod
    def provisioning_configuration(vm_size: str = "", vm_priority: str = "dedicated", min_nodes: int = 0,
                                   max_nodes: int = 4, idle_seconds_before_scaledown: int | None = None,
                                   **kwargs: Any) -> AmlComputeProvisioningConfiguration:
        """v1's provisioning settings (accepted and ignored: nothing is provisioned)."""
        return AmlComputeProvisioningConfiguration(vm_size, vm_priority, min_nodes, max_nodes,
                                                   idle_seconds_before_scaledown, tuple(sorted(kwargs.items())))

    @staticmethod
    def supported_vmsizes(workspace: Workspace, location: str | None = None) -> list[dict[str, Any]]:
        return []


def resolve_compute_name(workspace: Workspace, name: Any) -> Any:
    """The target a name stands for: itself, or what ``compute_aliases`` maps it to."""
    if not isinstance(name, str):
        return name
    return workspace.settings.compute_aliases.get(name, name)


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


def make_backend(definition: dict[str, Any] | None, artifacts: ArtifactSource | None = None) -> ComputeBackend:
    """The backend of a target: ``None`` (the built-in ``local``) or an attached definition."""
    if definition is None:
        return LocalBackend()
    if definition.get("type") == RAY:
        return RayBackend(str(definition["address"]), definition.get("shared_filesystem"), artifacts)
    raise WorkspaceError(f"unknown compute target type {definition.get('type')!r}")
