"""Locating and creating a workspace: a ``.scriptrun/`` folder and its settings.

Precedence when looking for the workspace (:meth:`Workspace.from_config`):
``SCRIPTRUN_WORKSPACE`` if set, else the nearest ``.scriptrun/`` walking up from the start
folder (the current directory by default). :meth:`Workspace.resolve` additionally creates
``./.scriptrun/`` when none is found, so a new user needs no set-up.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from scriptrun.errors import ConfigError, WorkspaceError
from scriptrun.spec.problems import validate_model
from scriptrun.workspace.azure import (
    LOCAL_LOCATION,
    LOCAL_RESOURCE_GROUP,
    LOCAL_SUBSCRIPTION_ID,
    note_azure_arguments_ignored,
)
from scriptrun.workspace.keyvault import Keyvault
from scriptrun.workspace.locking import atomic_write, file_lock

WORKSPACE_DIRNAME = ".scriptrun"
SETTINGS_FILE = "config.yaml"
ENV_VAR = "SCRIPTRUN_WORKSPACE"


class WorkspaceSettings(BaseModel):
    """Settings kept in ``.scriptrun/config.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str | None = Field(
        None, description="Any MLflow tracking URI; default sqlite:///<workspace>/.scriptrun/mlflow.db")
    max_concurrent_runs: int = Field(2, ge=1, description="Local runs executing at once; more wait Queued.")
    agent_idle_timeout_seconds: float = Field(
        600.0, gt=0, description="The agent stops after this long with no run and no request.")
    snapshot_max_bytes: int = Field(300 * 1024 * 1024, gt=0, description="Largest source snapshot accepted.")
    working_copy: Literal["link", "copy"] = Field(
        "link", description="How a run's working directory gets the snapshot's files: `link` (reflinks or hard "
                            "links of the store's objects, see docs/performance.md) or `copy` (private copies).")
    compute_aliases: dict[str, str] = Field(
        default_factory=dict, description="v1 cluster names mapped to `local` or an attached target, e.g. "
                                          "{cpu-cluster: local}, so v1 code runs unchanged.")


# Views of the assets that packages above this one own (datastores, datasets, environments,
# compute targets, experiments, models): registered by ``scriptrun.assets`` at import, so that
# ``ws.datastores`` works without workspace/ importing upward.
_ASSET_VIEWS: dict[str, Callable[[Workspace], Any]] = {}


def register_asset_view(name: str, function: Callable[[Workspace], Any]) -> None:
    """Register what ``Workspace.<name>`` returns (called by ``scriptrun.assets``)."""
    _ASSET_VIEWS[name] = function


def _view(name: str) -> Callable[[Workspace], Any]:
    if name not in _ASSET_VIEWS:  # ``import scriptrun`` is lazy: plug the views in on first use
        importlib.import_module("scriptrun.assets")
    return _ASSET_VIEWS[name]


def _asset_view(name: str, doc: str) -> property:
    return property(lambda self: _view(name)(self), doc=doc)


class Workspace:
    """A scriptrun workspace: settings, tracking store, runs, snapshots and registered assets."""

    def __init__(self, root: str | os.PathLike[str] | None = None, settings: WorkspaceSettings | None = None,
                 workspace_name: str | None = None, auth: Any = None, **azure: Any):
        if not isinstance(settings, (WorkspaceSettings, type(None))) or workspace_name or auth or azure:
            # v1: Workspace(subscription_id, resource_group, workspace_name, auth=None, ...) → the local one
            note_azure_arguments_ignored("Workspace()", ["subscription_id", "resource_group", "workspace_name",
                                                         "auth" if auth else "", *azure])
            local = Workspace.resolve()
            root, settings = local.root, local.settings
        if root is None:
            raise WorkspaceError("Workspace() needs the project folder: Workspace.from_config() finds it, "
                                 "Workspace.create('.') makes one")
        self.root = Path(root).resolve()
        self.dir = self.root / WORKSPACE_DIRNAME
        self.settings = settings if settings is not None else _load_settings(self.dir / SETTINGS_FILE)
        _make_private(self.dir)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str] = ".", exist_ok: bool = True, *,
               tracking_uri: str | None = None) -> Workspace:
        """Create a workspace in ``path`` (the project folder); return it if it exists and
        ``exist_ok`` is true."""
        root = Path(path).resolve()
        ws_dir = root / WORKSPACE_DIRNAME
        if ws_dir.is_dir() and not exist_ok:
            raise WorkspaceError(f"a workspace already exists at {ws_dir} (pass exist_ok=True to use it)")
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"cannot create a workspace in {root}: it is a file, not a folder")
        ws_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: store, artifacts, snapshots
        settings_file = ws_dir / SETTINGS_FILE
        with file_lock(ws_dir / ".create.lock"):
            if not settings_file.exists() or tracking_uri is not None:
                current = _load_settings(settings_file).model_dump(exclude_defaults=True)
                if tracking_uri is not None:
                    current["tracking_uri"] = tracking_uri
                atomic_write(settings_file, yaml.safe_dump(current, sort_keys=False) if current else "{}\n")
        (ws_dir / ".gitignore").write_text("*\n")
        return cls(root)

    @classmethod
    def get(cls, path: str | os.PathLike[str], auth: Any = None, subscription_id: str | None = None,
            resource_group: str | None = None, **azure: Any) -> Workspace:
        """The workspace in ``path`` (a project folder or its ``.scriptrun`` folder).

        v1's ``Workspace.get(name, subscription_id=..., resource_group=...)``: a name that is
        not a folder, or Azure arguments, give the local workspace (with a one-time note).
        """
        root = _root_of(Path(path))
        azure_names = [n for n, v in (("auth", auth), ("subscription_id", subscription_id),
                                      ("resource_group", resource_group), *azure.items()) if v is not None]
        if root is None and not _looks_like_path(path):
            azure_names.append(f"name={os.fspath(path)!r}")
        if azure_names:
            note_azure_arguments_ignored("Workspace.get()", azure_names)
        if root is None and azure_names:
            return cls.resolve()
        if root is None:
            raise WorkspaceError(f"no scriptrun workspace at {Path(path).resolve()}: "
                                 f"create one with Workspace.create({str(path)!r}) or `scriptrun workspace create`")
        return cls(root)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, auth: Any = None, _logger: Any = None,
                    _file_name: str | None = None) -> Workspace:
        """Find the workspace: ``SCRIPTRUN_WORKSPACE``, else walk up from ``path`` (default: cwd;
        a v1 ``config.json`` path means its folder). ``auth`` is accepted and ignored."""
        if auth is not None:
            note_azure_arguments_ignored("Workspace.from_config()", ["auth"])
        if path is not None and Path(path).is_file():
            path = Path(path).parent
        found = cls._find(path)
        if found is None:
            start = Path(path or os.getcwd()).resolve()
            raise WorkspaceError(f"no scriptrun workspace found in {start} or any parent folder; "
                                 "run `scriptrun workspace create` or Workspace.create('.')")
        return found

    @classmethod
    def find(cls, path: str | os.PathLike[str] | None = None) -> Workspace | None:
        """Like :meth:`from_config`, but None when there is no workspace."""
        return cls._find(path)

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None = None) -> Workspace:
        """:meth:`from_config`, creating ``./.scriptrun/`` when there is none (the implicit default)."""
        return cls._find(path) or cls.create(path or os.getcwd())

    @classmethod
    def _find(cls, path: str | os.PathLike[str] | None) -> Workspace | None:
        env = os.environ.get(ENV_VAR)
        if env and path is None:
            root = _root_of(Path(env))
            if root is None:
                raise WorkspaceError(f"{ENV_VAR}={env} does not name a scriptrun workspace")
            return cls(root)
        start = Path(path or os.getcwd()).resolve()
        for folder in (start, *start.parents):
            if (folder / WORKSPACE_DIRNAME).is_dir():
                return cls(folder)
        return None

    # -- layout -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def tracking_uri(self) -> str:
        return self.settings.tracking_uri or f"sqlite:///{self.dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.dir / "mlruns"

    @property
    def runs_dir(self) -> Path:
        return self.dir / "runs"

    @property
    def snapshots_dir(self) -> Path:
        return self.dir / "snapshots"

    @property
    def registry_dir(self) -> Path:
        return self.dir / "registry"

    @property
    def agent_socket(self) -> Path:
        """The agent's Unix socket (short path outside the workspace if the inside one is too long)."""
        inside = self.dir / "agent.sock"
        if len(str(inside)) < 100:
            return inside
        digest = hashlib.sha1(str(self.dir).encode()).hexdigest()[:16]
        base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"scriptrun-{os.getuid()}"
        base.mkdir(mode=0o700, exist_ok=True)
        return base / f"{digest}.sock"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    # -- v1's Azure identity and asset views --------------------------------------------

    subscription_id = LOCAL_SUBSCRIPTION_ID
    resource_group = LOCAL_RESOURCE_GROUP
    location = LOCAL_LOCATION
    sku = "local"
    tags: dict[str, str] = {}
    discovery_url = None

    datastores = _asset_view("datastores", "Datastores by name (v1).")
    datasets = _asset_view("datasets", "Registered datasets by name, latest versions (v1).")
    environments = _asset_view("environments", "Environments by name: curated and registered (v1).")
    compute_targets = _asset_view("compute_targets", "Compute targets by name, `local` included (v1).")
    experiments = _asset_view("experiments", "Experiments by name (v1).")
    models = _asset_view("models", "Registered models by name, latest versions (v1).")

    def get_default_datastore(self) -> Any:
        """The default datastore (a folder in the workspace), as in v1."""
        return _view("default_datastore")(self)

    def get_default_keyvault(self) -> Keyvault:
        """v1's key vault: the workspace's secrets, kept in ``.scriptrun/secrets.env`` (0600).
        Scripts read them with ``run.get_secret(name)``; jobs receive them as environment
        variables with ``secret_environment_variables``."""
        return Keyvault(self)

    def get_details(self) -> dict[str, Any]:
        """v1's workspace details, with local values for the Azure identity fields."""
        return {"id": str(self.root), "name": self.name, "location": self.location,
                "resourceGroup": self.resource_group, "subscriptionId": self.subscription_id, "sku": self.sku,
                "workspaceid": hashlib.sha1(str(self.root).encode()).hexdigest(), "tags": {},
                "description": f"scriptrun workspace at {self.root}", "tracking_uri": self.tracking_uri}

    def write_config(self, path: str | None = None, file_name: str | None = None) -> None:
        """v1 wrote ``config.json`` for ``from_config()``; the ``.scriptrun`` folder already does that."""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "root": str(self.root),
            "workspace_dir": str(self.dir),
            "tracking_uri": self.tracking_uri,
            "settings": self.settings.model_dump(),
        }

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)


def _looks_like_path(path: str | os.PathLike[str]) -> bool:
    text = os.fspath(path)
    return os.sep in text or text.startswith((".", "~")) or Path(text).exists()


def _root_of(path: Path) -> Path | None:
    path = path.expanduser().resolve()
    if path.name == WORKSPACE_DIRNAME and path.is_dir():
        return path.parent
    if (path / WORKSPACE_DIRNAME).is_dir():
        return path
    return None


def _make_private(ws_dir: Path) -> None:
    """Tighten an existing workspace folder that other users can enter to 0700, with a warning
    (teams share through an MLflow server, ``tracking_uri``, not through file modes)."""
    try:
        info = ws_dir.stat()
    except OSError:
        return
    if info.st_mode & 0o077 and info.st_uid == os.geteuid():
        os.chmod(ws_dir, 0o700)
        warnings.warn(f"workspace folder {ws_dir} was open to other users (mode {info.st_mode & 0o777:o}); "
                      "it is now private (0700). Share runs through an MLflow server (tracking_uri) instead",
                      UserWarning, stacklevel=3)


def _load_settings(file: Path) -> WorkspaceSettings:
    if not file.exists():
        return WorkspaceSettings()
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise WorkspaceError(f"{file}: not valid YAML: {exc}")
    try:
        return validate_model(WorkspaceSettings, data, file=str(file))
    except ConfigError as exc:
        raise WorkspaceError(f"invalid workspace settings: {exc}") from None
