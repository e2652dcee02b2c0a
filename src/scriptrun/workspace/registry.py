"""The workspace's registry of named, versioned assets (environments, compute targets, …).

Layout: ``.scriptrun/registry/<kind>/<name>/<version>.yaml`` with integer versions.
Registering a definition identical to an existing version returns that version.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from scriptrun.errors import WorkspaceError
from scriptrun.spec.problems import did_you_mean
from scriptrun.workspace.locking import atomic_write, file_lock
from scriptrun.workspace.workspace import Workspace

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
# v1 allows spaces inside dataset names ("Titanic passengers"); not at either end
_NAMES = {"datasets": re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._ -]{0,253}[A-Za-z0-9._-])?$")}


class AssetRegistry:
    """Named, versioned YAML definitions of one ``kind`` of asset in a workspace."""

    def __init__(self, workspace: Workspace, kind: str):
        self.workspace = workspace
        self.kind = kind
        self.dir = workspace.registry_dir / kind

    def register(self, name: str, definition: dict[str, Any]) -> int:
        """Store ``definition`` under ``name``; return its version (existing if identical)."""
        if not _NAMES.get(self.kind, _NAME).match(name or ""):
            spaces = ", spaces inside" if self.kind in _NAMES else ""
            raise WorkspaceError(f"invalid {self.kind} name {name!r}: use letters, digits, '.', '_' or '-'"
                                 f"{spaces}, starting with a letter or digit (at most 255 characters)")
        folder = self.dir / name
        folder.mkdir(parents=True, exist_ok=True)
        with file_lock(folder / ".lock"):
            versions = self._versions(name)
            canonical = _canonical(definition)
            for version in reversed(versions):
                if _canonical(self._read(name, version)) == canonical:
                    return version
            version = (versions[-1] + 1) if versions else 1
            atomic_write(folder / f"{version}.yaml", yaml.safe_dump(definition, sort_keys=False))
            return version

    def get(self, name: str, version: int | str | None = None) -> tuple[dict[str, Any], int]:
        """The definition and version of ``name`` (the latest version when ``version`` is None)."""
        versions = self._versions(name)
        if not versions:
            hint = did_you_mean(name, self.names())
            raise WorkspaceError(f"no {self.kind} named {name!r} in workspace {self.workspace.root}"
                                 + (f"; {hint}" if hint else ""))
        if version is None or version == "latest":
            chosen = versions[-1]
        else:
            try:
                chosen = int(version)
            except (TypeError, ValueError):
                raise WorkspaceError(f"invalid version {version!r} for {self.kind} {name!r}: versions are integers")
            if chosen not in versions:
                raise WorkspaceError(f"{self.kind} {name!r} has no version {chosen}; "
                                     f"versions: {', '.join(map(str, versions))}")
        return self._read(name, chosen), chosen

    def delete(self, name: str) -> None:
        """Remove every version of ``name``."""
        folder = self.dir / name
        if not self._versions(name):
            raise WorkspaceError(f"no {self.kind} named {name!r} in workspace {self.workspace.root}")
        with file_lock(folder / ".lock"):
            for path in folder.glob("*.yaml"):
                path.unlink()

    def names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.name for p in self.dir.iterdir() if p.is_dir() and self._versions(p.name))

    def latest(self) -> dict[str, tuple[dict[str, Any], int]]:
        """Every name with its latest definition and version."""
        return {name: self.get(name) for name in self.names()}

    def versions(self, name: str) -> list[int]:
        return self._versions(name)

    def _versions(self, name: str) -> list[int]:
        folder = self.dir / name
        if not folder.is_dir():
            return []
        return sorted(int(p.stem) for p in folder.glob("*.yaml") if p.stem.isdigit())

    def _read(self, name: str, version: int) -> dict[str, Any]:
        path: Path = self.dir / name / f"{version}.yaml"
        return yaml.safe_load(path.read_text()) or {}


def _canonical(definition: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in definition.items() if k != "version"}, sort_keys=True, default=str)
