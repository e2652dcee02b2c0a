"""The exception tree of scriptrun.

::

    ScriptrunError                     base of everything scriptrun raises on purpose   SR-ERROR
    ├── ConfigError (ValueError)       a job/config is wrong; carries every Problem      SR-CONFIG
    ├── WorkspaceError                 no workspace, unreadable settings, registry…      SR-WORKSPACE
    ├── SnapshotError                  the source directory cannot be snapshotted        SR-SNAPSHOT
    ├── SubmitError                    the job was valid but could not be started        SR-SUBMIT
    │   └── EnvironmentBuildError      building the job's environment failed             SR-ENV-BUILD
    ├── DataError                      a datastore/dataset operation failed              SR-DATA
    ├── AgentError                     the local agent could not be reached or started   SR-AGENT
    └── RunError                       a run operation failed                            SR-RUN
        └── ActivityFailedException    wait_for_completion(raise_on_error=True) failed   SR-RUN-FAILED

User errors (``is_user_error = True``) are printed by the CLI as headline + location +
hint, without a traceback; anything else is an internal error and keeps its traceback.

**Stable codes.** Every error carries a ``code`` (``SR-...``): its class's default, or a more
specific one given where it is raised (``SubmitError(..., code="SR-RAY-UNREACHABLE")``, or
``Problem(..., code="SR-NCCL-NO-GPU")`` inside a ``ConfigError``). ``str(exc)`` ends with a
last line naming the code and its troubleshooting guide::

    [SR-ENV-BUILD] see docs/troubleshooting/environment-build-failed.md

``TROUBLESHOOTING`` maps each code to its page (``docs/troubleshooting/<page>.md`` in the
repository; the docs site serves it at ``troubleshooting/<page>/``). The trailer is parsed
back: an error re-raised from another one's text (``DataError(str(exc))``, the agent's
answer over its socket, a ``Problem`` built from ``str(exc)``) keeps the code, and the line
is never repeated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Where the troubleshooting guides live, relative to the repository's root. Defined once:
#: every error's last line is ``[<code>] see <DOCS_TROUBLESHOOTING><page>.md``.
DOCS_TROUBLESHOOTING = "docs/troubleshooting/"

#: Every stable error code and its guide's page (a file ``<page>.md`` in DOCS_TROUBLESHOOTING).
#: A test checks both ways: every code has its page, every page its code. The last three are
#: symptoms without an exception (a run waiting, a sweep or pipeline behaving unexpectedly):
#: their codes appear in run errors or docs, so users can search for them.
TROUBLESHOOTING: dict[str, str] = {
    "SR-ERROR": "other-errors",
    "SR-CONFIG": "invalid-configuration",
    "SR-YAML": "yaml-error",
    "SR-NCCL-NO-GPU": "nccl-without-gpu",
    "SR-MPI": "mpi-as-root-or-mpirun-missing",
    "SR-WORKSPACE": "workspace-error",
    "SR-SNAPSHOT": "snapshot-error",
    "SR-SNAPSHOT-TOO-LARGE": "snapshot-too-large",
    "SR-SUBMIT": "submit-failed",
    "SR-ENV-BUILD": "environment-build-failed",
    "SR-RAY-UNREACHABLE": "ray-cluster-unreachable",
    "SR-RAY-WORKING-DIR": "ray-working-dir-too-large",
    "SR-DATA": "data-error",
    "SR-DATA-PATH-ESCAPE": "data-path-escapes-datastore",
    "SR-AGENT": "agent-does-not-start",
    "SR-RUN": "run-error",
    "SR-RUN-FAILED": "run-failed",
    "SR-PORT-IN-USE": "port-in-use",
    "SR-SWEEP-METRIC": "sweep-primary-metric-not-logged",
    "SR-RUN-QUEUED": "run-stuck-in-queued",
    "SR-PIPELINE-RERUN": "pipeline-step-reran",
}

_TRAILER = re.compile(r"\n?\[(SR-[A-Z0-9-]+)\] see \S+\Z")


def troubleshooting_page(code: str) -> str:
    """The repository path of ``code``'s guide, e.g. docs/troubleshooting/yaml-error.md."""
    return f"{DOCS_TROUBLESHOOTING}{TROUBLESHOOTING.get(code, TROUBLESHOOTING['SR-ERROR'])}.md"


def see_also(code: str) -> str:
    """The last line of an error's message: its code and the guide that explains it."""
    return f"[{code}] see {troubleshooting_page(code)}"


def with_see_also(message: str, code: str) -> str:
    """``message`` ending with its code's line (for error texts that are not exceptions, such as
    a run's recorded error)."""
    return f"{split_see_also(message)[0]}\n{see_also(code)}"


def split_see_also(text: str) -> tuple[str, str | None]:
    """``text`` without a trailing ``[<code>] see ...`` line, and that code (None if none)."""
    match = _TRAILER.search(text)
    if match is None:
        return text, None
    return text[: match.start()], match.group(1)


class ScriptrunError(Exception):
    """Base class of all scriptrun errors. ``code`` is the stable error code (the class's
    default unless the raise site passes ``code=``); ``str(exc)`` ends with the line naming it
    and its troubleshooting guide, ``message`` is the text without that line."""

    is_user_error = True
    code = "SR-ERROR"

    def __init__(self, *args: Any, code: str | None = None):
        if args and isinstance(args[0], str):
            text, found = split_see_also(args[0])
            args = (text, *args[1:])
            code = code or found
        super().__init__(*args)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return super().__str__()

    @property
    def see_also(self) -> str:
        return see_also(self.code)

    def __str__(self) -> str:
        message = self.message
        return f"{message}\n{self.see_also}" if message else self.see_also

    @property
    def headline(self) -> str:
        return self.message.splitlines()[0] if self.message else type(self).__name__


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where, what, and how to fix it."""

    path: str
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    code: str | None = None  # a specific error code (SR-...), when the problem has its own guide

    def __post_init__(self) -> None:  # a message made from another error's str() keeps its code
        message, code = split_see_also(self.message)
        object.__setattr__(self, "message", message)
        if self.code is None and code is not None:
            object.__setattr__(self, "code", code)

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
    field path, the YAML file and line when there is one, and a hint. Its ``code`` is the first
    problem's specific code, else ``SR-CONFIG``."""

    code = "SR-CONFIG"

    def __init__(self, problems: list[Problem] | Problem | str, *, path: str = "", code: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(path=path, message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        head = f"invalid job configuration ({n} problem{'s' if n != 1 else ''})"
        code = code or next((p.code for p in self.problems if p.code), None)
        super().__init__(head + "\n" + "\n".join("  - " + p.render() for p in self.problems), code=code)

    def paths(self) -> list[str]:
        return [p.path for p in self.problems]


class WorkspaceError(ScriptrunError):
    """The workspace is missing, unreadable, or an asset conflicts."""

    code = "SR-WORKSPACE"


class SnapshotError(ScriptrunError):
    """The source directory cannot be snapshotted."""

    code = "SR-SNAPSHOT"


class SubmitError(ScriptrunError):
    """A valid job could not be started."""

    code = "SR-SUBMIT"


class EnvironmentBuildError(SubmitError):
    """Building a job's environment failed; the message ends with the build log's tail."""

    code = "SR-ENV-BUILD"


class DataError(ScriptrunError):
    """A datastore or dataset operation failed: a missing path, a name conflict, a path that
    escapes its datastore."""

    code = "SR-DATA"


class AgentError(ScriptrunError):
    """The local workspace agent could not be reached or started."""

    is_user_error = False
    code = "SR-AGENT"


class RunError(ScriptrunError):
    """A run operation failed (unknown run id, bad artifact name…)."""

    code = "SR-RUN"


class ActivityFailedException(RunError):
    """Raised by ``wait_for_completion(raise_on_error=True)`` when the run failed."""

    code = "SR-RUN-FAILED"

    def __init__(self, message: str, error_details: dict[str, Any] | None = None, *, code: str | None = None):
        super().__init__(message, code=code)
        self.error_details = error_details or {}


class ConfigNotice(UserWarning):
    """Not an error: a default chosen for the user where the documented one cannot work (a
    PyTorch job without a backend on a machine without GPUs runs with Gloo), said at
    validation. The CLI prints it as a ``note:`` line."""
