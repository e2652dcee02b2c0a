"""The workspace's secrets: ``.scriptrun/secrets.env``, v1's ``ws.get_default_keyvault()``.

A dotenv-style file (``NAME=value`` lines; ``#`` comments; values written JSON-quoted so any
text round-trips) readable by its owner only: a file that the group or others may read is
refused with a clear error, never read. Jobs name the secrets they need in
``secret_environment_variables``; their values are looked up at submission (the submitter's
environment first, then this file) and handed to the run's processes without being stored
with the run (see docs/environments-and-data.md).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scriptrun.errors import WorkspaceError
from scriptrun.workspace.locking import file_lock

if TYPE_CHECKING:
    from scriptrun.workspace.workspace import Workspace

SECRETS_FILE = "secrets.env"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def secrets_file(workspace: Workspace) -> Path:
    return workspace.dir / SECRETS_FILE


def read_secrets(path: Path) -> dict[str, str]:
    """The secrets of ``path`` (empty when it does not exist). Refuses a file that anyone but
    its owner may read, or that another user owns."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise WorkspaceError(f"cannot read the secrets file {path}: {exc.strerror or exc} "
                             "(it must be a regular file, not a link)") from None
    with os.fdopen(fd, encoding="utf-8") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise WorkspaceError(f"the secrets file {path} must be a regular file owned by you")
        if info.st_mode & 0o077:
            raise WorkspaceError(f"the secrets file {path} is readable by other users (mode "
                                 f"{info.st_mode & 0o777:o}); it was not read. Make it private: chmod 600 {path}")
        text = fh.read()
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:  # the line may hold a value: never echo it
            raise WorkspaceError(f"{path}:{number}: not a `NAME=value` line")
        name, value = match.groups()
        out[name] = _unquote(value, path, number)
    return out


def _unquote(value: str, path: Path, number: int) -> str:
    if value[:1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            raise WorkspaceError(f'{path}:{number}: a value starting with " must be a JSON string') from None
        if not isinstance(decoded, str):
            raise WorkspaceError(f'{path}:{number}: a value starting with " must be a JSON string')
        return decoded
    if value[:1] == "'" and value[-1:] == "'" and len(value) > 1:
        return value[1:-1]
    return value


def write_secrets(path: Path, secrets: Mapping[str, str]) -> None:
    """Replace the file with ``secrets``, created 0600 (never visible with a wider mode)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# scriptrun secrets: keep this file private (chmod 600); see docs/environments-and-data.md\n")
        fh.writelines(f"{name}={json.dumps(value)}\n" for name, value in sorted(secrets.items()))
    os.replace(tmp, path)


def resolve_secrets(names: Iterable[str], environ: Mapping[str, str], workspace: Workspace) -> dict[str, str]:
    """The value of each secret name: from ``environ`` (the submitter's environment), else
    the workspace's secrets file. A name found in neither is a WorkspaceError naming both."""
    names = list(names)
    found = {n: environ[n] for n in names if n in environ}
    missing = [n for n in names if n not in found]
    if missing:
        stored = read_secrets(secrets_file(workspace))
        found.update({n: stored[n] for n in missing if n in stored})
        missing = [n for n in missing if n not in stored]
    if missing:
        listed = ", ".join(missing)
        raise WorkspaceError(f"secret environment variable(s) {listed} not found: set them in the submitting "
                             f"environment (export {missing[0]}=...) or store them in "
                             f"{secrets_file(workspace)} (ws.get_default_keyvault().set_secret("
                             f"{missing[0]!r}, value))")
    return found


class Keyvault:
    """v1's ``Keyvault`` of a workspace, kept in ``.scriptrun/secrets.env`` (mode 0600)."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.name = f"{workspace.name}-secrets"
        self.path = secrets_file(workspace)

    def _update(self, change: Mapping[str, str | None]) -> None:
        with file_lock(self.workspace.dir / ".secrets.lock"):
            current = read_secrets(self.path)
            for name, value in change.items():
                if value is None:
                    current.pop(name, None)
                else:
                    current[name] = value
            write_secrets(self.path, current)

    def set_secret(self, name: str, value: str) -> None:
        self.set_secrets({name: value})

    def set_secrets(self, secrets_batch: Mapping[str, str]) -> None:
        for name, value in secrets_batch.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise WorkspaceError(f"secret name {name!r}: use letters, digits and '_' (an environment "
                                     "variable name), not starting with a digit")
            if not isinstance(value, str):
                raise WorkspaceError(f"secret {name!r}: the value must be a str, got {type(value).__name__}")
        self._update(dict(secrets_batch))

    def get_secret(self, name: str) -> str:
        return self.get_secrets([name])[name]

    def get_secrets(self, secrets: list[str]) -> dict[str, str]:
        stored = read_secrets(self.path)
        missing = [n for n in secrets if n not in stored]
        if missing:
            raise WorkspaceError(f"no secret named {', '.join(map(repr, missing))} in {self.path}; "
                                 f"set it with ws.get_default_keyvault().set_secret({missing[0]!r}, value)")
        return {n: stored[n] for n in secrets}

    def list_secrets(self) -> list[dict[str, Any]]:
        return [{"name": name} for name in sorted(read_secrets(self.path))]

    def delete_secret(self, name: str) -> None:
        self.delete_secrets([name])

    def delete_secrets(self, secrets: list[str]) -> None:
        stored = read_secrets(self.path)
        missing = [n for n in secrets if n not in stored]
        if missing:
            raise WorkspaceError(f"no secret named {', '.join(map(repr, missing))} in {self.path}")
        self._update(dict.fromkeys(secrets))

    def __repr__(self) -> str:
        return f"Keyvault(path={str(self.path)!r})"
