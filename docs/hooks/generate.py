"""MkDocs hook: the docs site's generated pages, made from the live code at build time.

* ``reference/yaml.md``: the job and pipeline YAML reference, from the JSON Schemas that
  ``scriptrun schema`` prints (field, type, default, description — one source of truth);
* ``reference/cli.md``: every command of the ``scriptrun`` typer app, its usage and options;
* ``reference/api.md``: the Python API reference, mkdocstrings blocks over the public names;
* ``troubleshooting/index.md``: every stable error code and its guide (``scriptrun.errors``);
* ``repo/<path>.md``: a page showing a repository file outside ``docs/`` (an example script)
  for every Markdown link that points at one, so links such as ``../examples/sweep/run.py``
  work in the repository's file view and on the site alike.

Referenced from ``mkdocs.yml`` (``hooks:``); nothing here is written to the work tree.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[2]
REPO_PAGES = "repo/"
_LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")
_TEXT_SUFFIXES = {".py", ".yml", ".yaml", ".sh", ".txt", ".json", ".toml", ".cfg", ".md", ".csv", ".ipynb"}

# The Python API reference: (section, [public names]); each name is documented where it is defined.
API = [
    ("Workspace, experiments and runs", ["Workspace", "Experiment", "Run", "RunStatus", "RunDetails"]),
    ("Configuring a job", ["ScriptRunConfig", "PyTorchConfiguration", "MpiConfiguration",
                           "TensorflowConfiguration", "ParallelTaskConfiguration", "DockerConfiguration",
                           "ChildBatch", "JobSpec"]),
    ("Environments", ["Environment", "CondaDependencies"]),
    ("Data", ["Datastore", "Dataset", "FileDataset", "TabularDataset", "DatasetConsumptionConfig",
              "OutputFileDatasetConfig", "DataReference", "DataPath"]),
    ("Compute targets", ["ComputeTarget", "RayCluster", "AmlCompute"]),
    ("Pipelines", ["Pipeline", "PythonScriptStep", "CommandStep", "PipelineData", "PipelineParameter",
                   "PipelineRun", "StepRun", "PublishedPipeline"]),
    ("Sweeps (HyperDrive)", ["HyperDriveConfig", "HyperDriveRun", "PrimaryMetricGoal", "RandomParameterSampling",
                             "GridParameterSampling", "BayesianParameterSampling", "BanditPolicy",
                             "MedianStoppingPolicy", "TruncationSelectionPolicy", "NoTerminationPolicy",
                             "choice", "uniform", "loguniform", "normal", "randint"]),
    ("Models", ["Model"]),
    ("Errors", ["ScriptrunError", "ConfigError", "Problem", "WorkspaceError", "SnapshotError", "SubmitError",
                "EnvironmentBuildError", "DataError", "AgentError", "RunError", "ActivityFailedException"]),
    ("v1 compatibility (implementation details)", ["RunConfiguration", "Estimator"]),
]


# -- hooks -----------------------------------------------------------------------------------------


def on_files(files: Files, config: Any) -> Files:
    pages = {
        "reference/yaml.md": yaml_reference(),
        "reference/cli.md": cli_reference(),
        "reference/api.md": api_reference(),
        "troubleshooting/index.md": troubleshooting_index(),
    }
    for path in _linked_repo_files(config):
        pages[f"{REPO_PAGES}{path}.md"] = repo_file_page(path)
    for path, content in pages.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Links from a page to a repository file outside docs/ go to that file's generated page."""
    source = page.file.src_uri

    def rewrite(match: re.Match[str]) -> str:
        target = _repo_target(source, match.group(2))
        if target is None:
            return match.group(0)
        page_uri = f"{REPO_PAGES}{target}.md"
        relative = posixpath.relpath(page_uri, posixpath.dirname(source) or ".")
        return f"{match.group(1)}{relative}{match.group(3) or ''}{match.group(4)}"

    return _LINK.sub(rewrite, markdown)


# -- links to repository files -------------------------------------------------------------------


def _repo_target(source_uri: str, link: str) -> str | None:
    """The repository path a relative link from docs/<source_uri> points at, when it leaves docs/
    and names an existing text file; else None."""
    if "://" in link or link.startswith(("/", "mailto:")):
        return None
    resolved = posixpath.normpath(posixpath.join("docs", posixpath.dirname(source_uri), link))
    if resolved.startswith(("docs/", "../")) or resolved == "docs":
        return None
    path = REPO / resolved
    if not path.is_file() or path.suffix not in _TEXT_SUFFIXES:
        return None
    return resolved


def _linked_repo_files(config: Any) -> set[str]:
    docs = Path(config["docs_dir"])
    found: set[str] = set()
    for md in docs.rglob("*.md"):
        source = md.relative_to(docs).as_posix()
        for match in _LINK.finditer(md.read_text(encoding="utf-8")):
            target = _repo_target(source, match.group(2))
            if target:
                found.add(target)
    return found


def repo_file_page(path: str) -> str:
    text = (REPO / path).read_text(encoding="utf-8")
    language = {".py": "python", ".yml": "yaml", ".yaml": "yaml", ".sh": "bash", ".json": "json",
                ".toml": "toml"}.get(Path(path).suffix, "text")
    fence = "````" if "```" in text else "```"
    return f"# `{path}`\n\nThis file of the scriptrun repository, as of this build:\n\n{fence}{language}\n{text}\n{fence}\n"


# -- YAML reference ----------------------------------------------------------------------------------


def _schema(*args: str) -> dict[str, Any]:
    """What ``scriptrun schema ARGS`` prints (the CLI's own output, so the reference follows it)."""
    from typer.testing import CliRunner

    from scriptrun.cli.main import app

    result = CliRunner().invoke(app, ["schema", *args])
    if result.exit_code != 0:
        raise RuntimeError(f"scriptrun schema {' '.join(args)} failed: {result.output}")
    return json.loads(result.stdout)


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop or "oneOf" in prop:
        options = [_type(p) for p in prop.get("anyOf", prop.get("oneOf", []))]
        return " or ".join(dict.fromkeys(o for o in options if o != "null")) + (
            " or null" if "null" in options else "")
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = prop.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"mapping to {_type(prop['additionalProperties'])}"
    return kind


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fields_table(model: dict[str, Any]) -> str:
    props = model.get("properties", {})
    if not props:
        return "_(no fields)_\n"
    required = set(model.get("required", []))
    rows = ["| field | type | default | description |", "| --- | --- | --- | --- |"]
    for name, prop in props.items():
        if "default" in prop:
            default = f"`{json.dumps(prop['default'])}`"
        else:
            default = "**required**" if name in required else ""
        rows.append(f"| `{name}` | {_type(prop)} | {default} | {_cell(prop.get('description', ''))} |")
    return "\n".join(rows) + "\n"


def _schema_section(title: str, command: str, schema: dict[str, Any]) -> str:
    parts = [f"## {title}\n", f"Generated from `{command}`"]
    if schema.get("$id"):
        parts[-1] += f" (`$id`: `{schema['$id']}`)"
    parts[-1] += ".\n"
    if schema.get("description"):
        parts.append(schema["description"] + "\n")
    parts.append(_fields_table(schema))
    for name, model in schema.get("$defs", {}).items():
        parts.append(f'### {name} {{ #{name.lower()} }}\n')
        if model.get("description"):
            parts.append(model["description"] + "\n")
        parts.append(_fields_table(model) if "properties" in model else f"Type: {_type(model)}\n")
    return "\n".join(parts)


SCHEMAS = [("Job YAML", None), ("Pipeline YAML", "--pipeline"), ("Sweep (HyperDrive) YAML", "--sweep")]


def yaml_reference() -> str:
    import typer

    from scriptrun.cli.main import app

    command = typer.main.get_command(app).commands["schema"]
    flags = {opt for param in command.params for opt in param.opts}
    parts = [
        "# YAML reference\n",
        "Generated at build time from the JSON Schemas that `scriptrun schema` prints, which are "
        "themselves generated from the spec models: this page cannot drift from the code. "
        "`scriptrun validate FILE` checks a file against the same rules (and more: files exist, "
        "targets are known, the machine can run it). The keys are `ScriptRunConfig`'s keyword names; "
        "see [Configuring a job](../guides/configuring-a-job.md).\n",
        "For completion and checking in an editor (VS Code with the YAML extension), write the schema "
        "to a file and name it on a YAML file's first line: "
        "`# yaml-language-server: $schema=<path to the schema>.json`.\n",
    ]
    seen: set[str] = set()  # the schemas share models: each gets its anchor once
    for title, flag in SCHEMAS:
        if flag is not None and flag not in flags:
            continue
        document = _schema(*([flag] if flag else []))
        own = {k: v for k, v in document.get("$defs", {}).items() if k not in seen}
        seen |= set(own)
        parts.append(_schema_section(title, f"scriptrun schema{' ' + flag if flag else ''}",
                                     {**document, "$defs": own}))
    return "\n".join(parts)


# -- CLI reference -----------------------------------------------------------------------------------


def cli_reference() -> str:
    import typer

    from scriptrun.cli.main import app

    root = typer.main.get_command(app)
    parts = ["# CLI reference\n",
             "Generated at build time from the `scriptrun` command itself (its typer app): every "
             "command, its arguments and options. `scriptrun COMMAND --help` prints the same.\n"]

    def walk(command: Any, path: list[str]) -> None:
        ctx = command.context_class(command, info_name=" ".join(path))
        if path != ["scriptrun"]:
            parts.append(f"{'#' * min(len(path), 4)} `{' '.join(path)}`\n")
        parts.append(f"```text\nUsage: {' '.join(path)} {' '.join(command.collect_usage_pieces(ctx))}\n```\n")
        if command.help:
            parts.append(_clean_help(command.help) + "\n")
        rows = []
        for param in command.params:
            record = None if param.hidden else param.get_help_record(ctx)
            if record is None or param.name == "help":
                continue
            names, help_text = record
            rows.append(f"| `{names}` | {_cell(help_text)} |")
        if rows:
            parts.append("| argument / option | description |\n| --- | --- |\n" + "\n".join(rows) + "\n")
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name])

    walk(root, ["scriptrun"])
    return "\n".join(parts)


def _clean_help(text: str) -> str:
    return re.sub(r"\n\s*\n", "\n\n", text.strip().replace("\b\n", ""))


# -- Python API reference --------------------------------------------------------------------------


def api_reference() -> str:
    import scriptrun

    parts = ["# Python API reference\n",
             "Generated at build time from the docstrings of the public API (`from scriptrun import ...`). "
             "Each name is documented at the module that defines it; `import scriptrun` re-exports it. "
             "v1's module paths (`scriptrun.core`, `scriptrun.train.hyperdrive`, `scriptrun.pipeline.steps`, ...) "
             "re-export the same objects: see [v1 module paths](../v1-module-paths.md).\n"]
    for section, names in API:
        parts.append(f"## {section}\n")
        for name in names:
            module = scriptrun._LAZY[name]
            parts.append(f"::: {module}.{name}\n    options:\n      heading_level: 3\n")
    return "\n".join(parts)


# -- troubleshooting index ---------------------------------------------------------------------------


def troubleshooting_index() -> str:
    from scriptrun.errors import DOCS_TROUBLESHOOTING, TROUBLESHOOTING

    rows = []
    for code, page in TROUBLESHOOTING.items():
        path = REPO / DOCS_TROUBLESHOOTING / f"{page}.md"
        title = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip() if path.exists() else page
        rows.append(f"| `{code}` | [{title}]({page}.md) |")
    return "\n".join([
        "# Troubleshooting\n",
        "Every error scriptrun raises on purpose carries a stable **code** and ends with the path of "
        "its guide in the repository, for example:\n",
        "```text\nerror: invalid job configuration (1 problem)\n"
        "  distributed_job_config.communication_backend: the NCCL backend needs NVIDIA GPUs, and this machine has none\n"
        "      hint: use PyTorchConfiguration(communication_backend='Gloo') to train on CPUs\n"
        "  [SR-NCCL-NO-GPU] see docs/troubleshooting/nccl-without-gpu.md\n```\n",
        f"The guides live in `{DOCS_TROUBLESHOOTING}` in the repository (that path is what errors print, so it "
        "works in a clone without a network); on this site the same page is `troubleshooting/<page>/`. "
        "In Python the code is `exc.code`; the last line of `str(exc)` is the link, `exc.message` is the text "
        "without it. A run that failed records its error in `run.get_details()['error']` with the same last line.\n",
        "| code | guide |\n| --- | --- |\n" + "\n".join(rows) + "\n",
        "The codes and pages are listed in one place, `scriptrun.errors.TROUBLESHOOTING`; a test checks that "
        "every code has its page and every page its code.\n",
    ])
