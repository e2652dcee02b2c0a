"""The exception tree of scriptrun.

::

    ScriptrunError                     base of everything scriptrun raises on purpose
    ├── ConfigError (ValueError)       a job/config is wrong; carries every Problem at once
    ├── WorkspaceError                 no workspace, unreadable settings, registry conflicts
    ├── SnapshotError                  the source directory cannot be snapshotted (size limit…)
    ├── SubmitError                    the job was valid but could not be started
    │   └── EnvironmentBuildError      building the job's environment failed (log tail included)
    ├── DataError                      a datastore/dataset operation failed (missing path, conflict…)
    ├── AgentError                     the local agent could not be reached or started
    └── RunError                       a run operation failed
        └── ActivityFailedException    wait_for_completion(raise_on_error=True) on a failed run

User errors (``is_user_error = True``) are printed by the CLI as headline + location +
hint, without a traceback; anything else is an internal error and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ScriptrunError(Exception):
    """Base class of all scriptrun errors."""

    is_user_error = True

    @property
    def headline(self) -> str:
        return str(self).splitlines()[0] if str(self) else type(self).__name__


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where, what, and how to fix it."""

    path: str
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None

    def location(self) -> str:
        where = self.path or "<job>"
        if self.file:
            return f"{self.file}:{self.line}: {where}" if self.line else f"{self.file}: {where}"
        return where

    def render(self) -> str:
        text = f"{self.location()}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class ConfigError(ScriptrunError, ValueError):
    """A configuration is invalid. ``problems`` lists every problem found, each with its
    field path, the YAML file and line when there is one, and a hint."""

    def __init__(self, problems: list[Problem] | Problem | str, *, path: str = ""):
        if isinstance(problems, str):
            problems = [Problem(path=path, message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        head = f"invalid job configuration ({n} problem{'s' if n != 1 else ''})"
        super().__init__(head + "\n" + "\n".join("  - " + p.render() for p in self.problems))

    @property
    def headline(self) -> str:
        return str(self).splitlines()[0]

    def paths(self) -> list[str]:
        return [p.path for p in self.problems]


class WorkspaceError(ScriptrunError):
    """The workspace is missing, unreadable, or an asset conflicts."""


class SnapshotError(ScriptrunError):
    """The source directory cannot be snapshotted."""


class SubmitError(ScriptrunError):
    """A valid job could not be started."""


class EnvironmentBuildError(SubmitError):
    """Building a job's environment failed; the message ends with the build log's tail."""


class DataError(ScriptrunError):
    """A datastore or dataset operation failed: a missing path, a name conflict, a path that
    escapes its datastore."""


class AgentError(ScriptrunError):
    """The local workspace agent could not be reached or started."""

    is_user_error = False


class RunError(ScriptrunError):
    """A run operation failed (unknown run id, bad artifact name…)."""


class ActivityFailedException(RunError):
    """Raised by ``wait_for_completion(raise_on_error=True)`` when the run failed."""

    def __init__(self, message: str, error_details: dict[str, Any] | None = None):
        super().__init__(message)
        self.error_details = error_details or {}
