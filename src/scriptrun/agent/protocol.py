"""The agent's typed protocol: one pydantic model per request, shared by client and agent.

On the wire a request is one JSON line, ``{"op": "<name>", ...fields}``; the answer is one
JSON line, ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"type", "message"}}``.
The agent parses each line into its model (an unknown op or a bad field is a clear error,
not a crash) and calls the one handler registered for that model's type.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from scriptrun.rundir import RunKind, RunStatus


class Request(BaseModel):
    # built on first use: a client builds only the requests it sends (the CLI starts faster)
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Ping(Request):
    op: Literal["ping"] = "ping"


class Shutdown(Request):
    op: Literal["shutdown"] = "shutdown"


class Submit(Request):
    """Create a run: a script run (queued; ``spec`` + ``snapshot_id``) or an interactive one."""

    op: Literal["submit"] = "submit"
    run_id: str
    experiment: str
    spec: dict[str, Any] | None = None
    snapshot_id: str | None = None
    tags: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    parent_run_id: str | None = None
    client_env: dict[str, str] = Field(default_factory=dict)
    client_python: str = ""
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)  # held in the agent's memory only
    kind: RunKind = RunKind.SCRIPT
    target: str = "local"
    reuse_key: str | None = None
    reuse_components: dict[str, Any] = Field(default_factory=dict)


class SubmitParent(Request):
    """Create a parent run driven by a controller (``controller`` = ``module:Class``)."""

    op: Literal["submit_parent"] = "submit_parent"
    run_id: str
    experiment: str
    kind: RunKind
    controller: str
    state: dict[str, Any]
    tags: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    parent_run_id: str | None = None
    client_env: dict[str, str] = Field(default_factory=dict)
    client_python: str = ""
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)  # for its children; memory only


class RunRequest(Request):
    run_id: str


class Status(RunRequest):
    op: Literal["status"] = "status"


class Wait(RunRequest):
    op: Literal["wait"] = "wait"
    timeout: float = 5.0


class Waiting(RunRequest):
    """Why a run is not running or ended yet: its place in the queue, what its preparation is
    doing, or what its finalizing uploads (``{"status": ..., "reason": str | None, "progress":
    [bytes done, bytes] | None}``; no reason while it runs and once it has ended)."""

    op: Literal["waiting"] = "waiting"


class Details(RunRequest):
    op: Literal["details"] = "details"


class ListRuns(Request):
    op: Literal["list"] = "list"
    experiment: str | None = None
    status: str | None = None
    limit: int | None = None
    parent_run_id: str | None = None
    include_children: bool = True


class Cancel(RunRequest):
    op: Literal["cancel"] = "cancel"


class EndInteractive(RunRequest):
    op: Literal["end_interactive"] = "end_interactive"
    status: RunStatus
    error: dict[str, Any] | None = None
    outputs_dir: str | None = None


class Metrics(RunRequest):
    op: Literal["metrics"] = "metrics"


class SetTags(RunRequest):
    op: Literal["set_tags"] = "set_tags"
    tags: dict[str, Any]


class GetTags(RunRequest):
    op: Literal["get_tags"] = "get_tags"


class AddProperties(RunRequest):
    op: Literal["add_properties"] = "add_properties"
    properties: dict[str, Any]


class GetProperties(RunRequest):
    op: Literal["get_properties"] = "get_properties"


class Upload(RunRequest):
    op: Literal["upload"] = "upload"
    name: str
    path: str


class FileNames(RunRequest):
    op: Literal["file_names"] = "file_names"


class Download(RunRequest):
    """Write run files (``name`` as ``FileNames`` lists it -> absolute target path) to the
    client's disk; each appears at its target whole or not at all."""

    op: Literal["download"] = "download"
    files: dict[str, str]


class FindReusable(Request):
    """The newest Completed run whose reuse key is ``key`` (None if there is none)."""

    op: Literal["find_reusable"] = "find_reusable"
    key: str


class RegisterModel(Request):
    """Register a new version of ``name``: ``model_path`` inside run ``run_id``'s artifacts,
    or (no run) a local file or folder, copied into the workspace."""

    op: Literal["register_model"] = "register_model"
    name: str
    model_path: str
    run_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    description: str | None = None


class ListModels(Request):
    """Model versions, newest first; ``latest`` keeps one per name."""

    op: Literal["list_models"] = "list_models"
    name: str | None = None
    tags: dict[str, str | None] = Field(default_factory=dict)
    properties: dict[str, str | None] = Field(default_factory=dict)
    run_id: str | None = None
    latest: bool = False


class GetModel(Request):
    """One model version (the latest when ``version`` is None)."""

    op: Literal["get_model"] = "get_model"
    name: str
    version: int | None = None


class DownloadModel(Request):
    """Copy a model version's files into ``target_dir`` (on the agent's machine: this one)."""

    op: Literal["download_model"] = "download_model"
    name: str
    version: int | None = None
    target_dir: str
    exist_ok: bool = False


AnyRequest = Annotated[
    Union[Ping, Shutdown, Submit, SubmitParent, Status, Wait, Waiting, Details, ListRuns, Cancel, EndInteractive, Metrics,
          SetTags, GetTags, AddProperties, GetProperties, Upload, FileNames, Download, FindReusable,
          RegisterModel, ListModels, GetModel, DownloadModel],
    Field(discriminator="op"),
]


@functools.cache
def _request_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(AnyRequest)


def parse_request(data: Any) -> Request:
    """The request model of one decoded JSON line (pydantic's ValidationError if invalid)."""
    return _request_adapter().validate_python(data)
