"""Runs on a Ray cluster, from the agent's side: submit the Ray job, follow it to its end
(also after an agent restart), and bring back what a cluster without the workspace's
folder published to the tracking store."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from scriptrun.agent.runstate import RunRecord, ray_outcome
from scriptrun.compute.ray_backend import RayJobs, result_from_logs
from scriptrun.rundir import METRICS_FILE, RunStatus
from scriptrun.spec import JobSpec

RAY_POLL = 0.25
RAY_MARKER = "ray_job.json"
RAY_TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


class RayRuns:
    """Mixed into :class:`~scriptrun.agent.server.Agent`."""

    def _run_on_ray(self, record: RunRecord, spec: JobSpec, workdir: Path, env: dict[str, str], python: str,
                    address: str, shared_filesystem: bool | None) -> None:
        """Submit the run as a Ray job (its driver plays the shim's part), then watch it."""
        jobs = RayJobs(address)
        job = {"spec": spec.model_dump(mode="json"), "env": env, "python": python, "run_dir": str(record.path),
               "workdir": str(workdir), "shared_filesystem": shared_filesystem}
        jobs.submit(record.run_id, workdir, job, python, env_vars={"PYTHONUNBUFFERED": "1"}, nodes=spec.node_count)
        (record.path / RAY_MARKER).write_text(json.dumps({"address": address, "job_id": record.run_id}))
        self._watch_ray(record, jobs)

    def _watch_ray(self, record: RunRecord, jobs: RayJobs | None = None) -> None:
        """Follow a Ray job to its end (also after an agent restart), then finalise the run."""
        try:
            if jobs is None:
                jobs = RayJobs(json.loads((record.path / RAY_MARKER).read_text())["address"])
            stop_sent = False
            while True:
                status = jobs.status(record.run_id)
                if status == "RUNNING":
                    self._set_status(record, RunStatus.RUNNING)
                if status in RAY_TERMINAL:
                    break
                if record.run_id in self.cancel_flags and not stop_sent:
                    jobs.stop(record.run_id)
                    stop_sent = True
                time.sleep(RAY_POLL)
            driver_log = jobs.logs(record.run_id)
            logs = record.path / "logs"
            logs.mkdir(exist_ok=True)
            (logs / "driver.txt").write_text(driver_log)
            if not (record.path / "exit.json").exists():  # the cluster does not share this folder
                outcome = result_from_logs(driver_log) or ray_outcome(status, stop_sent, jobs.info(record.run_id))
                self._fetch_published(record)
                (record.path / "exit.json").write_text(json.dumps(outcome))
            self._finalize(record)
        except Exception as exc:  # noqa: BLE001 - any failure must end the run, not hang it
            self._fail(record, exc)

    def _fetch_published(self, record: RunRecord) -> None:
        """Bring back what a driver without access to this folder published to the tracking
        store: the metrics file (ingested as usual) and the process logs."""
        with self.lock, tempfile.TemporaryDirectory() as tmp:
            for name in ("scriptrun/metrics.jsonl", "user_logs"):
                try:
                    local_path = Path(self.tracking.download(record.mlflow_run_id, name, tmp))
                except Exception:  # noqa: BLE001 - nothing was published (the driver died early)
                    continue
                if local_path.is_dir():
                    for log_file in local_path.iterdir():
                        shutil.move(str(log_file), record.path / "logs" / log_file.name)
                else:
                    shutil.move(str(local_path), record.path / METRICS_FILE)
