"""The canonical job specification.

Every front door (``ScriptRunConfig`` in its new and legacy forms, YAML, ``.runconfig``
files, the CLI, ``Estimator``) reduces to one frozen :class:`JobSpec`. Its YAML form is the
canonical serialisation and its JSON Schema is generated from these models.

The YAML keys are the ``ScriptRunConfig`` keyword names, so a YAML job reads like the
Python call that would build it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

SCHEMA_VERSION = 1
MAX_DURATION_SECONDS_DEFAULT = 2592000  # 30 days, as v1's ScriptRunConfig
LOCAL_TARGET = "local"


class SpecModel(BaseModel):
    """Base of every spec part: immutable, unknown keys rejected. Validators are built on first
    use (``defer_build``), so importing the spec costs little for commands that never validate."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, defer_build=True)


# -- distributed job configurations -----------------------------------------------------


class MpiSpec(SpecModel):
    """``MpiConfiguration``: ``node_count × process_count_per_node`` ranks under ``mpirun``."""

    type: Literal["mpi"] = Field("mpi", description="Distribution kind: `mpi`.")
    process_count_per_node: int = Field(1, ge=1, description=(
        "Processes started on each node; ranks = node_count × this."))


class PyTorchSpec(SpecModel):
    """``PyTorchConfiguration``: per-process launch when ``process_count`` is set, else per-node."""

    type: Literal["pytorch"] = Field("pytorch", description="Distribution kind: `pytorch`.")
    communication_backend: Literal["nccl", "gloo"] | None = Field(None, description=(
        "`nccl` (NVIDIA GPUs) or `gloo` (CPUs), any case. Unset: nccl where this machine has NVIDIA GPUs, "
        "else gloo (and validation says so)."))
    process_count: int | None = Field(None, ge=1, description=(
        "Processes over all nodes (per-process launch); unset: one process per node."))

    @field_validator("communication_backend", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class TensorflowSpec(SpecModel):
    """``TensorflowConfiguration``: one process per worker and per parameter server."""

    type: Literal["tensorflow"] = Field("tensorflow", description="Distribution kind: `tensorflow`.")
    worker_count: int = Field(1, ge=1, description="Worker processes, one per node.")
    parameter_server_count: int = Field(1, ge=0, description="Parameter-server processes.")


class ParallelTaskSpec(SpecModel):
    """``ParallelTaskConfiguration``: independent workers, each retried on failure."""

    type: Literal["parallel_task"] = Field("parallel_task", description="Distribution kind: `parallel_task`.")
    worker_count_per_node: int = Field(1, ge=1, description="Independent worker processes on each node.")
    max_retries_per_worker: int = Field(0, ge=0, description="How often a failed worker is started again.")
    terminal_exit_codes: list[int] | None = Field(None, description=(
        "Exit codes that end a worker without a retry."))


DistributionSpec = Annotated[
    Union[MpiSpec, PyTorchSpec, TensorflowSpec, ParallelTaskSpec], Field(discriminator="type")
]


class DockerSpec(SpecModel):
    """``DockerConfiguration``: container runtime settings of the run."""

    use_docker: bool = Field(False, description=(
        "Run in a container (v1's DockerConfiguration; local runs need Docker for this)."))
    shared_volumes: bool = Field(True, description="Share the host's volumes with the container.")
    arguments: list[str] = Field(default_factory=list, description="Extra `docker run` arguments.")
    shm_size: str = Field("2g", description="Shared memory of the container, e.g. `2g`.")


# -- environment -------------------------------------------------------------------------


class CondaSpec(SpecModel):
    """Package lists of an environment (``CondaDependencies`` / pip requirements)."""

    python_version: str | None = Field(None, description=(
        "Python version of the built environment, e.g. `3.11` (default: the submitter's)."))
    channels: list[str] = Field(default_factory=list, description="Conda channels, in order.")
    conda_packages: list[str] = Field(default_factory=list, description=(
        "Conda packages (needs conda or mamba on the machine)."))
    pip_packages: list[str] = Field(default_factory=list, description="pip requirements, e.g. `numpy==2.1`.")
    pip_options: list[str] = Field(default_factory=list, description="pip options, e.g. `--index-url ...`.")

    def has_packages(self) -> bool:
        return bool(self.conda_packages or self.pip_packages)


class PythonSpec(SpecModel):
    user_managed_dependencies: bool = Field(False, description="Use the interpreter as it is: build nothing.")
    interpreter_path: str | None = Field(None, description=(
        "The interpreter to run (default: the submitter's, or the built environment's)."))
    conda_dependencies: CondaSpec | None = Field(None, description=(
        "Packages to build the environment from (built once, then cached)."))


class DockerImageSpec(SpecModel):
    base_image: str | None = Field(None, description="Container image to run in.")
    base_dockerfile: str | None = Field(None, description="A Dockerfile's text to build the image from.")


class EnvironmentSpec(SpecModel):
    """An environment definition. With no package lists it runs the submitting interpreter."""

    name: str | None = Field(None, description="The environment's name (how it is registered).")
    version: str | None = Field(None, description="Its registered version.")
    environment_variables: dict[str, str] = Field(default_factory=dict, description=(
        "Variables set for the run's processes."))
    python: PythonSpec = Field(default_factory=PythonSpec, description="The interpreter and its packages.")
    docker: DockerImageSpec | None = Field(None, description="Container image settings.")


# -- data ----------------------------------------------------------------------------------

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ``${{inputs.name}}`` / ``${{outputs.name}}`` anywhere inside an argument string
PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([^\s}]*)\s*\}\}")
# v1's whole-argument tokens, inserted by its SDK for dataset objects in `arguments`
V1_PLACEHOLDER = re.compile(r"^(DatasetConsumptionConfig|DatasetOutputConfig):(.+)$")
MODEL_LOCATION = "MODEL_LOCATION"  # v1's name of the `resume_from` input
DEFAULT_OUTPUT_PATH = "dataset/{run-id}/{output-name}"
RESERVED_PREFIXES = ("SCRIPTRUN_", "AZUREML_", "MLFLOW_")


class DataLocationSpec(SpecModel):
    """Where data lives: ``path`` on the datastore named ``datastore``, or a ``url`` (any
    fsspec URL or a local path). ``path`` may hold a glob (``train/*.csv``)."""

    datastore: str | None = Field(None, description=(
        "A registered datastore's name (`scriptrun datastore list`)."))
    path: str = Field("", description="Path on the datastore; may hold a glob such as `train/*.csv`.")
    url: str | None = Field(None, description="Any fsspec URL or local path, instead of datastore + path.")


class DatasetSpec(SpecModel):
    """A dataset definition: files (``type: file``) or a table read from them (``type:
    tabular`` with a ``format``). ``name``/``version``/``fingerprint`` are set once registered."""

    type: Literal["file", "tabular"] = Field("file", description=(
        "`file` (files) or `tabular` (a table read from them)."))
    paths: list[DataLocationSpec] = Field(default_factory=list, description="Where the files are.")
    format: Literal["delimited", "parquet", "json_lines"] | None = Field(None, description=(
        "How a tabular dataset's files are read."))
    options: dict[str, Any] = Field(default_factory=dict, description=(
        "Reader options of a tabular dataset (e.g. `separator`)."))
    name: str | None = Field(None, description="Set once registered.")
    version: int | None = Field(None, description="Set once registered.")
    fingerprint: str | None = Field(None, description="Content fingerprint, set once registered.")


class InputSpec(SpecModel):
    """A named input of a job: a dataset (inline, or registered ``"name[:version]"``) and how it
    reaches the script (``direct``: its id; ``mount``/``download``: a local path)."""

    dataset: Union[DatasetSpec, str] = Field(description=(
        "A registered dataset (`name` or `name:version`) or an inline definition."))
    mode: Literal["direct", "mount", "download"] = Field("direct", description=(
        "How it reaches the script: `direct` (its id), `mount` or `download` (a local path)."))
    path_on_compute: str | None = Field(None, description=(
        "Where to put it on the compute (default: a folder of the run)."))

    @field_validator("mode", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class OutputSpec(SpecModel):
    """A named output folder, copied to ``datastore``:``path`` when the run completes
    (``{run-id}`` and ``{output-name}`` are filled in), optionally registered as a dataset."""

    mode: Literal["mount", "upload"] = Field("mount", description=(
        "`mount` (write in place) or `upload` (copied when the run completes)."))
    datastore: str | None = Field(None, description=(
        "Datastore to copy to (default: the workspace's default datastore)."))
    path: str = Field(DEFAULT_OUTPUT_PATH, description=(
        "Path on the datastore; `{run-id}` and `{output-name}` are filled in."))
    source: str | None = Field(None, description=(
        "Folder the script writes (default: a folder made for the run)."))
    overwrite: bool = Field(False, description="Replace files that exist on the datastore.")
    source_globs: list[str] = Field(default_factory=list, description="Only files matching these globs.")
    register_as: str | None = Field(None, description=(
        "Register the output as a dataset of this name when the run completes."))
    register_description: str | None = Field(None, description="Description of that dataset.")


# -- the job -----------------------------------------------------------------------------

ArgumentValue = Union[bool, int, float, str]


class JobSpec(SpecModel):
    """One script job: what to run, where, in which environment, on how many processes."""

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this file format.")
    source_directory: str = Field(description=(
        "Folder to snapshot and run in; relative to the YAML file's folder (default: that folder)."))
    script: str | None = Field(None, description=(
        "Python script to run, relative to source_directory (or give `command`)."))
    arguments: list[ArgumentValue] = Field(default_factory=list, description=(
        "The script's arguments; `${{inputs.NAME}}`/`${{outputs.NAME}}` become data paths."))
    command: Union[str, list[str], None] = Field(None, description=(
        "A whole command instead of script + arguments: a string (run by /bin/sh) or a list."))
    compute_target: str = Field(LOCAL_TARGET, description=(
        "Where to run: `local` or an attached target (`scriptrun compute list`)."))
    environment: Union[EnvironmentSpec, str, None] = Field(None, description=(
        "A registered environment (`name` or `name:version`), an inline definition, or unset for the "
        "submitting interpreter."))
    distributed_job_config: DistributionSpec | None = Field(None, description=(
        "How to launch several processes: `type:` pytorch, mpi, tensorflow or parallel_task."))
    node_count: int = Field(1, ge=1, description=(
        "Nodes to run on (on `local`: virtual nodes of this machine)."))
    environment_variables: dict[str, str] = Field(default_factory=dict, description=(
        "Variables set for the script's processes (stored with the run)."))
    secret_environment_variables: list[str] = Field(
        default_factory=list, description="Names of variables whose values are secrets: taken at submission "
                                          "from the submitter's environment or .scriptrun/secrets.env, never "
                                          "stored with the run (docs/environments-and-data.md)")
    max_run_duration_seconds: int = Field(MAX_DURATION_SECONDS_DEFAULT, gt=0, description=(
        "The run is canceled after this long (default: 30 days)."))
    docker_runtime_config: DockerSpec | None = Field(None, description=(
        "Container runtime settings (v1's DockerConfiguration)."))
    source_directory_data_store: str | None = Field(None, description=(
        "v1's datastore for the source snapshot (kept for compatibility)."))
    inputs: dict[str, InputSpec] = Field(default_factory=dict, description=(
        "Named data inputs, used in `arguments` as `${{inputs.NAME}}`."))
    outputs: dict[str, OutputSpec] = Field(default_factory=dict, description=(
        "Named output folders, used in `arguments` as `${{outputs.NAME}}`."))
    resume_from: DataLocationSpec | None = Field(None, description=(
        "A checkpoint to start from (v1's resume_from: the MODEL_LOCATION input)."))
    description: str | None = Field(None, description="What the run is for: shown as the run's description in "
                                                      "MLflow (markdown); not part of its reuse key")

    @field_validator("source_directory", "script")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("a path cannot contain a NUL character (\\x00)")
        return value

    @field_validator("command", mode="before")
    @classmethod
    def _command_items_to_str(cls, value: Any) -> Any:
        # v1 crashed with TypeError on ['python', 'train.py', '--epochs', 50]; we convert.
        if isinstance(value, (list, tuple)):
            return [v if isinstance(v, str) else _scalar_to_str(v) for v in value]
        return value

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _env_values_to_str(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) or not _is_scalar(v) else _scalar_to_str(v) for k, v in value.items()}
        return value

    @field_validator("secret_environment_variables")
    @classmethod
    def _secret_names(cls, value: list[str], info: ValidationInfo) -> list[str]:
        plain = set(info.data.get("environment_variables") or {})
        for name in value:
            if name in plain:
                raise ValueError(f"{name!r} is both in environment_variables (stored with the run, in plain "
                                 "text) and a secret: remove it from environment_variables")
            if not IDENTIFIER.match(name):
                raise ValueError(f"{name!r} is not a variable name (letters, digits and '_', not starting "
                                 "with a digit): give the names of secrets, never their values")
            if name.startswith(RESERVED_PREFIXES):
                raise ValueError(f"{name!r}: names starting with {', '.join(RESERVED_PREFIXES)} are set by "
                                 "scriptrun itself")
        return list(dict.fromkeys(value))

    def entry_argv(self) -> list[str]:
        """The user process's argv before ``$VAR`` expansion (``python`` is resolved later)."""
        if self.command is not None:
            return list(self.command) if isinstance(self.command, list) else ["/bin/sh", "-c", self.command]
        return ["python", self.script or ""] + [_scalar_to_str(a) for a in self.arguments]

    def placeholders(self) -> list[tuple[str, str, str]]:
        """Every data placeholder in ``arguments``/``command``: (field path, kind, name),
        ``kind`` being ``inputs`` or ``outputs``."""
        found = []
        items = self.command if self.command is not None else self.arguments
        field = "command" if self.command is not None else "arguments"
        for i, item in enumerate(items if isinstance(items, list) else [items]):
            if not isinstance(item, str):
                continue
            where = f"{field}[{i}]" if isinstance(items, list) else field
            found += [(where, kind, name) for kind, name in PLACEHOLDER.findall(item)]
            v1 = V1_PLACEHOLDER.match(item)
            if v1:
                found.append((where, "inputs" if v1.group(1).startswith("DatasetC") else "outputs", v1.group(2)))
        return found


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str))


def _scalar_to_str(value: Any) -> Any:
    if isinstance(value, (int, float)):  # bool is an int
        return str(value)
    return value
