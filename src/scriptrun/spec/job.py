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
    """Base of every spec part: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


# -- distributed job configurations -----------------------------------------------------


class MpiSpec(SpecModel):
    """``MpiConfiguration``: ``node_count × process_count_per_node`` ranks under ``mpirun``."""

    type: Literal["mpi"] = "mpi"
    process_count_per_node: int = Field(1, ge=1)


class PyTorchSpec(SpecModel):
    """``PyTorchConfiguration``: per-process launch when ``process_count`` is set, else per-node."""

    type: Literal["pytorch"] = "pytorch"
    communication_backend: Literal["nccl", "gloo"] = "nccl"
    process_count: int | None = Field(None, ge=1)

    @field_validator("communication_backend", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class TensorflowSpec(SpecModel):
    """``TensorflowConfiguration``: one process per worker and per parameter server."""

    type: Literal["tensorflow"] = "tensorflow"
    worker_count: int = Field(1, ge=1)
    parameter_server_count: int = Field(1, ge=0)


class ParallelTaskSpec(SpecModel):
    """``ParallelTaskConfiguration``: independent workers, each retried on failure."""

    type: Literal["parallel_task"] = "parallel_task"
    worker_count_per_node: int = Field(1, ge=1)
    max_retries_per_worker: int = Field(0, ge=0)
    terminal_exit_codes: list[int] | None = None


DistributionSpec = Annotated[
    Union[MpiSpec, PyTorchSpec, TensorflowSpec, ParallelTaskSpec], Field(discriminator="type")
]


class DockerSpec(SpecModel):
    """``DockerConfiguration``: container runtime settings of the run."""

    use_docker: bool = False
    shared_volumes: bool = True
    arguments: list[str] = Field(default_factory=list)
    shm_size: str = "2g"


# -- environment -------------------------------------------------------------------------


class CondaSpec(SpecModel):
    """Package lists of an environment (``CondaDependencies`` / pip requirements)."""

    python_version: str | None = None
    channels: list[str] = Field(default_factory=list)
    conda_packages: list[str] = Field(default_factory=list)
    pip_packages: list[str] = Field(default_factory=list)
    pip_options: list[str] = Field(default_factory=list)

    def has_packages(self) -> bool:
        return bool(self.conda_packages or self.pip_packages)


class PythonSpec(SpecModel):
    user_managed_dependencies: bool = False
    interpreter_path: str | None = None
    conda_dependencies: CondaSpec | None = None


class DockerImageSpec(SpecModel):
    base_image: str | None = None
    base_dockerfile: str | None = None


class EnvironmentSpec(SpecModel):
    """An environment definition. With no package lists it runs the submitting interpreter."""

    name: str | None = None
    version: str | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    python: PythonSpec = Field(default_factory=PythonSpec)
    docker: DockerImageSpec | None = None


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

    datastore: str | None = None
    path: str = ""
    url: str | None = None


class DatasetSpec(SpecModel):
    """A dataset definition: files (``type: file``) or a table read from them (``type:
    tabular`` with a ``format``). ``name``/``version``/``fingerprint`` are set once registered."""

    type: Literal["file", "tabular"] = "file"
    paths: list[DataLocationSpec] = Field(default_factory=list)
    format: Literal["delimited", "parquet", "json_lines"] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None
    version: int | None = None
    fingerprint: str | None = None


class InputSpec(SpecModel):
    """A named input of a job: a dataset (inline, or registered ``"name[:version]"``) and how it
    reaches the script (``direct``: its id; ``mount``/``download``: a local path)."""

    dataset: Union[DatasetSpec, str]
    mode: Literal["direct", "mount", "download"] = "direct"
    path_on_compute: str | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class OutputSpec(SpecModel):
    """A named output folder, copied to ``datastore``:``path`` when the run completes
    (``{run-id}`` and ``{output-name}`` are filled in), optionally registered as a dataset."""

    mode: Literal["mount", "upload"] = "mount"
    datastore: str | None = None
    path: str = DEFAULT_OUTPUT_PATH
    source: str | None = None
    overwrite: bool = False
    source_globs: list[str] = Field(default_factory=list)
    register_as: str | None = None
    register_description: str | None = None


# -- the job -----------------------------------------------------------------------------

ArgumentValue = Union[bool, int, float, str]


class JobSpec(SpecModel):
    """One script job: what to run, where, in which environment, on how many processes."""

    schema_version: Literal[1] = SCHEMA_VERSION
    source_directory: str
    script: str | None = None
    arguments: list[ArgumentValue] = Field(default_factory=list)
    command: Union[str, list[str], None] = None
    compute_target: str = LOCAL_TARGET
    environment: Union[EnvironmentSpec, str, None] = None
    distributed_job_config: DistributionSpec | None = None
    node_count: int = Field(1, ge=1)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    secret_environment_variables: list[str] = Field(
        default_factory=list, description="Names of variables whose values are secrets: taken at submission "
                                          "from the submitter's environment or .scriptrun/secrets.env, never "
                                          "stored with the run (docs/environments-and-data.md)")
    max_run_duration_seconds: int = Field(MAX_DURATION_SECONDS_DEFAULT, gt=0)
    docker_runtime_config: DockerSpec | None = None
    source_directory_data_store: str | None = None
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec] = Field(default_factory=dict)
    resume_from: DataLocationSpec | None = None

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
