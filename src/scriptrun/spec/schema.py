"""JSON Schemas of scriptrun's YAML files, generated from the spec models (never hand-written).

Each document gets a stable ``$id`` (one per file kind and schema version) and the
``$schema`` dialect, so editors can cache it; ``required`` lists only what a YAML file must
really contain (``source_directory`` defaults to the file's own folder). Point VS Code's YAML
extension at a written copy with a first line
``# yaml-language-server: $schema=.scriptrun/schema/job.json`` (``scriptrun schema --write``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from scriptrun.spec.job import SCHEMA_VERSION, JobSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://scriptrun.dev/schemas/"
# keys that the models require but a YAML file may leave out (the loader fills them in)
OPTIONAL_IN_YAML = frozenset({"source_directory"})


def schema_document(model: type[BaseModel], kind: str, title: str) -> dict[str, Any]:
    """``model``'s JSON Schema as a standalone document for files of ``kind`` (``job``,
    ``pipeline``): ``$schema``, a stable ``$id``, a title, and ``required`` as the YAML loader
    sees it, here and in every nested model."""
    schema = model.model_json_schema()
    for part in (schema, *schema.get("$defs", {}).values()):
        required = [name for name in part.get("required", []) if name not in OPTIONAL_IN_YAML]
        if required:
            part["required"] = required
        else:
            part.pop("required", None)
    return {"$schema": DIALECT, "$id": f"{ID_BASE}{kind}-v{SCHEMA_VERSION}.json", **schema, "title": title}


def job_schema() -> dict[str, Any]:
    """The schema of a job YAML file (``scriptrun run submit-script -c job.yml``)."""
    return schema_document(JobSpec, "job", "scriptrun job")
