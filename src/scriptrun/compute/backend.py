"""The compute backend protocol: where a run's processes execute.

The agent holds one backend per compute target and drives every run the same way —
``start`` it, ``wait`` for its :class:`~scriptrun.rundir.Outcome`, ``cancel`` it — without
ever asking which kind of target it is. Everything a backend needs to find a run again
after an agent restart is in the run's folder, so ``wait`` and ``cancel`` take the folder.
Submit-time capability checks (``check``) live with the backend that has the limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from scriptrun.errors import Problem
from scriptrun.rundir import Outcome

if TYPE_CHECKING:  # annotations only: importing the backend protocol defines no spec model
    from scriptrun.spec import JobSpec

# A run's secret values reach its supervisor (the shim) in this one variable of the shim's
# own environment, never in launch.json; the shim adds them to each process's environment and
# checks that every name the job declared (``SECRET_NAMES_VAR``, in the launch env) arrived.
SECRETS_VAR = "SCRIPTRUN_SECRETS"
SECRET_NAMES_VAR = "SCRIPTRUN_SECRET_NAMES"


@dataclass(frozen=True)
class Launch:
    """One run, prepared: its folder, its working copy, the spec with data placeholders
    filled in, the process environment of the contract, and the interpreter for ``python``."""

    run_id: str
    run_dir: Path
    workdir: Path
    spec: JobSpec
    env: dict[str, str]
    python: str
    mlflow_run_id: str = ""
    secrets: dict[str, str] = field(default_factory=dict, repr=False)  # never written to the run folder


class ComputeBackend(Protocol):
    """A compute target's backend. Implementations: ``LocalBackend``, ``RayBackend``."""

    def check(self, spec: JobSpec, tracking_uri: str | None) -> list[Problem]:
        """What this target cannot do for ``spec`` (submit-time validation)."""
        ...

    def base_env(self, client_env: Mapping[str, str]) -> dict[str, str]:
        """The variables the job's processes start from (the submitter's, on this machine)."""
        ...

    def start(self, launch: Launch) -> None:
        """Start the run's processes and return; they outlive the agent."""
        ...

    def launched(self, run_dir: Path) -> bool:
        """Whether ``start`` got as far as handing the run over (decides recovery)."""
        ...

    def adopt(self, run_dir: Path) -> bool:
        """After an agent restart: take over a run an earlier agent started (finishing a hand
        over it died in the middle of); False if it was never handed over."""
        ...

    def running(self, run_dir: Path) -> bool:
        """Whether the run's processes have started (the run shows ``Running``)."""
        ...

    def wait(self, run_dir: Path, timeout: float) -> Outcome | None:
        """The run's outcome once its processes have ended (also for a run started by an
        earlier agent); None if they still run after ``timeout`` seconds."""
        ...

    def cancel(self, run_dir: Path) -> None:
        """Stop every process of the run (SIGTERM, then SIGKILL after a grace period)."""
        ...


class ArtifactSource(Protocol):
    """Where a backend whose nodes cannot write the run folder leaves what they produced
    (the tracking store): ``download(mlflow_run_id, {name: local target path})``."""

    def download(self, mlflow_run_id: str, files: dict[str, str]) -> None: ...
