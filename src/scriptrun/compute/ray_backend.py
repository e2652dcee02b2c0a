"""The Ray compute backend: a run becomes a Ray job, submitted through the Jobs API.

The snapshot becomes the job's ``working_dir``; the entrypoint is
``<python> -m scriptrun.compute.ray_driver`` (an absolute interpreter: a bare ``python``
would be whatever was on PATH where ``ray start`` ran), the job itself in its environment
(``SCRIPTRUN_JOB``) — so a resubmit of the same snapshot has the same ``working_dir`` and Ray
reuses its package — or, when too big for a variable, in a file of the working_dir. A
single-process job is planned here, so the driver does not load the spec. The driver places the
job's nodes and supervises each node's processes with the same shim as the local backend.
``ray_job.json`` in the run folder remembers the cluster and the job, so a restarted agent
follows the job to its end. Only this module and the driver import Ray, lazily, with an
install hint when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from scriptrun.compute.backend import SECRETS_VAR, ArtifactSource, Launch
from scriptrun.compute.local import plan_launch
from scriptrun.compute.ray_driver import (
    GRACE_SECONDS,
    JOB_FILE,
    JOB_VAR,
    PUBLISHED_LOGS,
    PUBLISHED_METRICS,
    RESULT_MARKER,
)
from scriptrun.errors import Problem, SubmitError
from scriptrun.rundir import (
    EXIT_FILE,
    LOGS_DIR,
    METRICS_FILE,
    RAY_JOB_FILE,
    SHIM_FILE,
    Outcome,
    read_json,
    write_json_atomic,
)
from scriptrun.spec import JobSpec

log = logging.getLogger("scriptrun.ray")

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
POLL_SECONDS = 0.02  # the outcome file (a cluster sharing the run folder)
STATUS_POLL_SECONDS = 0.25  # Ray's job status (an HTTP request)
MAX_JOB_VAR = 64 * 1024  # bytes of job JSON passed in the environment (Linux allows 128 KiB per variable)
# Ray's refusal of a working_dir package (raised by the dashboard, relayed over HTTP)
PACKAGE_TOO_BIG = re.compile(r"Package size \((?P<size>[^)]+)\) exceeds the maximum size of (?P<limit>[\d.]+ ?[KMGT]?i?B)")


def _client(address: str) -> Any:
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError:
        raise SubmitError("this run's compute target is a Ray cluster, but Ray is not installed: "
                          "pip install 'scriptrun[ray]'") from None
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # noqa: BLE001 - connection errors come in several types
        raise SubmitError(f"cannot reach the Ray cluster at {address}: {exc}. Is it running "
                          "(`ray start --head`), and is the address its dashboard (port 8265)?",
                          code="SR-RAY-UNREACHABLE") from None


def result_from_logs(text: str) -> Outcome | None:
    """The driver's ``SCRIPTRUN_RESULT`` line, if it got to print one."""
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                return Outcome.from_json(json.loads(line[len(RESULT_MARKER):]))
            except (ValueError, TypeError):
                return None
    return None


class RayBackend:
    """One attached Ray cluster. ``shared_filesystem``: whether its nodes see the workspace
    folder at the same path (None: the driver detects it per run)."""

    def __init__(self, address: str, shared_filesystem: bool | None = None,
                 artifacts: ArtifactSource | None = None):
        self.address = address
        self.shared_filesystem = shared_filesystem
        self.artifacts = artifacts
        self._clients: dict[str, Any] = {}
        self._next_status: dict[Path, float] = {}  # per run: when Ray may be asked its status again

    def _jobs(self, address: str | None = None) -> Any:
        address = address or self.address
        if address not in self._clients:
            self._clients[address] = _client(address)
        return self._clients[address]

    def check(self, spec: JobSpec, tracking_uri: str | None) -> list[Problem]:
        problems = []
        if importlib.util.find_spec("ray") is None:
            problems.append(Problem("compute_target", f"{spec.compute_target!r} is a Ray cluster, but Ray is not "
                                    "installed in this environment", hint="pip install 'scriptrun[ray]'"))

        host = urlparse(self.address).hostname or ""
        if tracking_uri and tracking_uri.startswith(("sqlite:", "file:")) and host not in ("127.0.0.1", "localhost",
                                                                                          "::1"):
            problems.append(Problem("compute_target", f"the Ray cluster at {self.address} cannot reach this "
                                    f"workspace's local tracking store ({tracking_uri})",
                                    hint="serve the store with `scriptrun tracking serve --host 0.0.0.0` and set "
                                         "`tracking_uri: http://<this host>:5000` in .scriptrun/config.yaml"))
        dist = spec.distributed_job_config
        if dist is not None and dist.type == "mpi" and spec.node_count > 1:
            problems.append(Problem("node_count", "MPI jobs on a Ray cluster run on a single node",
                                    hint="use node_count=1 (with process_count_per_node ranks), or "
                                         "PyTorchConfiguration/TensorflowConfiguration across nodes"))
        if not problems:  # only a submission that could run contacts the cluster
            try:
                self._jobs()  # reachable now, or the submission fails here rather than on the run
            except SubmitError as exc:
                problems.append(Problem("compute_target", str(exc),
                                        hint=f"start the cluster, or re-attach {spec.compute_target!r} with "
                                             "`scriptrun compute attach-ray NAME --address URL`"))
        return problems

    def base_env(self, client_env: Mapping[str, str]) -> dict[str, str]:
        return {}  # the cluster's nodes have environments of their own

    def start(self, launch: Launch) -> None:
        """Submit the run as a Ray job; a single-node job's driver runs the processes itself,
        so it takes a CPU."""
        spec = launch.spec
        job = {"spec": spec.model_dump(mode="json"), "env": launch.env, "python": launch.python,
               "run_dir": str(launch.run_dir), "workdir": str(launch.workdir),
               "shared_filesystem": self.shared_filesystem}
        if spec.node_count == 1 and spec.distributed_job_config is None:  # nothing node-specific to plan
            job["launch"] = plan_launch(launch.run_dir, launch.workdir, spec, launch.env, launch.python,
                                        grace_seconds=GRACE_SECONDS)
        env_vars = {"PYTHONUNBUFFERED": "1", **({SECRETS_VAR: json.dumps(launch.secrets)} if launch.secrets else {})}
        entrypoint = f"{launch.python} -m scriptrun.compute.ray_driver"
        text = json.dumps(job)
        if len(text.encode()) <= MAX_JOB_VAR:
            env_vars[JOB_VAR] = text
        else:
            (launch.workdir / JOB_FILE).write_text(text)
            entrypoint += f" {JOB_FILE}"
        (launch.run_dir / EXIT_FILE).unlink(missing_ok=True)
        try:
            self._jobs().submit_job(
                entrypoint=entrypoint,
                submission_id=launch.run_id,
                runtime_env={"working_dir": str(launch.workdir), "env_vars": env_vars},
                entrypoint_num_cpus=1 if launch.spec.node_count == 1 else 0,
                metadata={"scriptrun.run_id": launch.run_id},
            )
        except (RuntimeError, ValueError) as exc:  # the cluster refuses the working_dir package
            too_big = PACKAGE_TOO_BIG.search(str(exc))
            if too_big is None:
                raise
            raise SubmitError(f"the Ray cluster refused the run's source snapshot as its working_dir: the package "
                              f"is {too_big['size']}, over the cluster's limit of {too_big['limit']}. Keep data and "
                              "checkpoints out of the source directory (list them in .amlignore) and pass data as "
                              "a dataset input instead", code="SR-RAY-WORKING-DIR") from None
        write_json_atomic(launch.run_dir / RAY_JOB_FILE, {"address": self.address, "job_id": launch.run_id,
                                                          "mlflow_run_id": launch.mlflow_run_id})

    def launched(self, run_dir: Path) -> bool:
        return (run_dir / RAY_JOB_FILE).exists()

    def adopt(self, run_dir: Path) -> bool:
        return self.launched(run_dir)  # the Ray job follows itself; ray_job.json finds it again

    def _job(self, run_dir: Path) -> tuple[Any, str, dict[str, Any]]:
        info = read_json(run_dir / RAY_JOB_FILE) or {}
        return self._jobs(info.get("address")), info.get("job_id", run_dir.name), info

    def running(self, run_dir: Path) -> bool:
        """The driver's shim started the processes (seen in a shared run folder at once), or
        Ray says the job runs (an HTTP request, at most every STATUS_POLL_SECONDS per run: the
        agent asks often while a run starts, and a job may wait long for cluster resources)."""
        if (run_dir / SHIM_FILE).exists():
            return True
        now = time.monotonic()
        if now < self._next_status.get(run_dir, 0.0):
            return False
        self._next_status[run_dir] = now + STATUS_POLL_SECONDS
        jobs, job_id, _ = self._job(run_dir)
        if str(jobs.get_job_status(job_id).value) != "RUNNING":
            return False
        self._next_status.pop(run_dir, None)
        return True

    def wait(self, run_dir: Path, timeout: float) -> Outcome | None:
        """The run's outcome once its driver recorded it in the (shared) run folder, or once
        Ray says the job ended; None after ``timeout``."""
        jobs, job_id, info = self._job(run_dir)
        deadline = time.monotonic() + timeout
        status, next_status = "", 0.0
        while (outcome := Outcome.read(run_dir)) is None:
            now = time.monotonic()
            if now >= next_status:
                if (status := str(jobs.get_job_status(job_id).value)) in TERMINAL:
                    outcome = Outcome.read(run_dir)
                    break
                next_status = now + STATUS_POLL_SECONDS
            if now > deadline:
                return None
            time.sleep(POLL_SECONDS)
        self._next_status.pop(run_dir, None)
        driver_log = jobs.get_job_logs(job_id)  # all of it but the driver's last line, if still running
        logs = run_dir / LOGS_DIR
        logs.mkdir(exist_ok=True)
        (logs / "driver.txt").write_text(driver_log)
        if outcome is None:  # the cluster does not share this folder (or the driver never reported)
            outcome = result_from_logs(driver_log) or _outcome_of_job(status, jobs.get_job_info(job_id))
            self._fetch_published(run_dir, info.get("mlflow_run_id", ""))
            outcome.write(run_dir)
        return outcome

    def cancel(self, run_dir: Path) -> None:
        if self.launched(run_dir):
            jobs, job_id, _ = self._job(run_dir)
            jobs.stop_job(job_id)

    def _fetch_published(self, run_dir: Path, mlflow_run_id: str) -> None:
        """Bring back what a driver without access to this folder published to the tracking
        store: the metrics file (ingested as usual) and the process logs."""
        if self.artifacts is None or not mlflow_run_id:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for name, target in ((PUBLISHED_METRICS, run_dir / METRICS_FILE), (PUBLISHED_LOGS, Path(tmp, "logs"))):
                try:
                    self.artifacts.download(mlflow_run_id, {name: str(target)})
                except FileNotFoundError:  # nothing was published (the driver died early)
                    continue
                except Exception:  # noqa: BLE001 - the run's outcome stands without what it published
                    log.warning("cannot fetch %s of MLflow run %s", name, mlflow_run_id, exc_info=True)
            if Path(tmp, "logs").is_dir():
                for log_file in Path(tmp, "logs").iterdir():
                    shutil.move(str(log_file), run_dir / LOGS_DIR / log_file.name)


def _outcome_of_job(status: str, info: Any) -> Outcome:
    """An outcome for a Ray job whose driver never reported one (it could not start…)."""
    if status == "STOPPED":
        return Outcome("canceled")
    message = getattr(info, "message", "") or f"Ray job ended {status}"
    return Outcome("failed", failed_process="ray job", stderr_tail=message)

