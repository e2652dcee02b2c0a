"""The JSON Schemas that ``scriptrun schema`` prints for editors: a description on every field,
``required`` as the loader really requires it, a stable ``$id``, and ``--write``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scriptrun.cli.main import app
from scriptrun.spec.schema import job_schema
from scriptrun.spec.yamlio import job_spec_from_yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _schema(*args: str) -> dict:
    result = CliRunner().invoke(app, ["schema", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _properties(schema: dict):
    for owner, part in [("<root>", schema), *schema.get("$defs", {}).items()]:
        for name, prop in part.get("properties", {}).items():
            yield f"{owner}.{name}", prop


@pytest.mark.parametrize("args", [(), ("--pipeline",)], ids=["job", "pipeline"])
def test_every_field_has_a_description(args):
    missing = [name for name, prop in _properties(_schema(*args)) if not prop.get("description")]
    assert not missing, f"fields without a description: {missing}"


def test_required_matches_what_a_file_must_contain(tmp_path: Path):
    schema = _schema()
    assert "source_directory" not in schema.get("required", [])
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "job.yml").write_text("script: train.py\n")
    assert job_spec_from_yaml(tmp_path / "job.yml").source_directory == str(tmp_path.resolve())
    for name, part in schema["$defs"].items():  # what stays required is really required
        for key in part.get("required", []):
            assert "default" not in part["properties"][key], (name, key)


def test_stable_id_and_dialect():
    job, pipeline = _schema(), _schema("--pipeline")
    assert job["$id"] == "https://scriptrun.dev/schemas/job-v1.json" == job_schema()["$id"]
    assert pipeline["$id"] == "https://scriptrun.dev/schemas/pipeline-v1.json"
    assert job["$schema"] == pipeline["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert job["additionalProperties"] is False


def test_write_puts_the_schema_where_the_editor_line_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["schema", "--write", ".scriptrun/schema/job.json"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / ".scriptrun/schema/job.json").read_text()) == _schema()
    assert "# yaml-language-server: $schema=.scriptrun/schema/job.json" in result.stderr


def test_example_jobs_validate_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = _schema()
    jobs = [p for p in EXAMPLES.rglob("*.yml") if "script" in (yaml.safe_load(p.read_text()) or {})]
    assert jobs
    for path in jobs:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError, match="node_cont"):
        jsonschema.validate({"script": "train.py", "node_cont": 2}, schema)
