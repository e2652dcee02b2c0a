"""The agent's side of the Ray compute target: submit, watch and stop Ray jobs.

The snapshot becomes the job's ``working_dir``; the entrypoint is
``<python> -m scriptrun.compute.ray_driver <job file>`` (an absolute interpreter: a bare
``python`` would be whatever was on PATH where ``ray start`` ran). Only this module and the
driver import Ray, lazily, with an install hint when it is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scriptrun.errors import SubmitError

JOB_FILE = ".scriptrun-job.json"
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


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
                          "(`ray start --head`), and is the address its dashboard (port 8265)?") from None


class RayJobs:
    """One Ray cluster's Jobs API."""

    def __init__(self, address: str):
        self.address = address
        self.client = _client(address)

    def submit(self, job_id: str, workdir: Path, job: dict[str, Any], python: str,
               env_vars: dict[str, str], *, nodes: int) -> str:
        """Submit; a single-node job's driver runs the processes itself, so it takes a CPU."""
        (workdir / JOB_FILE).write_text(json.dumps(job))
        return self.client.submit_job(
            entrypoint=f"{python} -m scriptrun.compute.ray_driver {JOB_FILE}",
            submission_id=job_id,
            runtime_env={"working_dir": str(workdir), "env_vars": env_vars},
            entrypoint_num_cpus=1 if nodes == 1 else 0,
            metadata={"scriptrun.run_id": job_id},
        )

    def status(self, job_id: str) -> str:
        return str(self.client.get_job_status(job_id).value)

    def logs(self, job_id: str) -> str:
        return self.client.get_job_logs(job_id)

    def stop(self, job_id: str) -> None:
        self.client.stop_job(job_id)

    def info(self, job_id: str) -> Any:
        return self.client.get_job_info(job_id)


def result_from_logs(text: str) -> dict[str, Any] | None:
    """The driver's ``SCRIPTRUN_RESULT`` line, if it got to print one."""
    for line in reversed(text.splitlines()):
        if line.startswith("SCRIPTRUN_RESULT "):
            try:
                return json.loads(line[len("SCRIPTRUN_RESULT "):])
            except ValueError:
                return None
    return None
