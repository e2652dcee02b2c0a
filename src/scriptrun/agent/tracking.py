"""The MLflow adapter: the only module of the agent that imports ``mlflow``.

The agent is the single writer of the tracking store; scripts may also write to it
directly with plain ``mlflow.log_metric`` (``MLFLOW_RUN_ID`` points at their run).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.entities import RunStatus as MlflowStatus
from mlflow.tracking import MlflowClient

from scriptrun.agent.runview import MAX_TAG_VALUE
from scriptrun.rundir import RunStatus

MAX_BATCH = 900  # MLflow accepts 1000 metrics per log_batch
MAX_PARAMS = 100  # and 100 params, 100 tags
EXPERIMENT_KIND = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"

_TERMINAL = {
    RunStatus.COMPLETED: MlflowStatus.to_string(MlflowStatus.FINISHED),
    RunStatus.FAILED: MlflowStatus.to_string(MlflowStatus.FAILED),
    RunStatus.CANCELED: MlflowStatus.to_string(MlflowStatus.KILLED),
}


class Tracking:
    def __init__(self, tracking_uri: str):
        logging.getLogger("alembic").setLevel(logging.WARNING)
        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self._experiments: dict[str, str] = {}

    def experiment_id(self, name: str) -> str:
        """The experiment's id (created if new), marked as a classic ML experiment so the MLflow
        UI shows its training runs rather than its GenAI views."""
        if name not in self._experiments:
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                self._experiments[name] = self.client.create_experiment(name, tags={EXPERIMENT_KIND: CLASSIC_ML})
            else:
                if EXPERIMENT_KIND not in exp.tags:
                    self.client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND, CLASSIC_ML)
                self._experiments[name] = exp.experiment_id
        return self._experiments[name]

    def create_run(self, experiment: str, run_name: str, tags: dict[str, str],
                   params: dict[str, str] | None = None) -> tuple[str, str]:
        """Create a run shown as ``SCHEDULED`` (queued) with its params; MLflow refuses to
        change a param, so they are written once, here."""
        run = self.client.create_run(self.experiment_id(experiment), run_name=run_name, tags=tags)
        items = [Param(k, v) for k, v in (params or {}).items()]
        for i in range(0, len(items), MAX_PARAMS):
            self.client.log_batch(run.info.run_id, params=items[i:i + MAX_PARAMS])
        self.client.update_run(run.info.run_id, status=MlflowStatus.to_string(MlflowStatus.SCHEDULED))
        return run.info.run_id, run.info.artifact_uri

    def set_running(self, mlflow_run_id: str) -> None:
        self.client.update_run(mlflow_run_id, status=MlflowStatus.to_string(MlflowStatus.RUNNING))

    def log_table(self, mlflow_run_id: str, name: str, columns: dict[str, list[Any]]) -> None:
        """A ``log_row``/``log_table`` table as MLflow's own table artifact (``tables/<name>.json``)."""
        self.client.log_table(mlflow_run_id, data=columns, artifact_file=f"tables/{name}.json")

    def log_records(self, mlflow_run_id: str, records: Iterable[dict[str, Any]], steps: dict[str, int]) -> None:
        """Write numeric scalar/list metrics and tags from metrics-file records, batched."""
        metrics: list[Metric] = []
        tags: list[RunTag] = []
        for rec in records:
            kind, name = rec.get("k"), rec.get("n")
            ts = int(rec.get("t") or time.time() * 1000)
            if kind == "m":
                values = [rec.get("v")]
            elif kind == "l":
                values = list(rec.get("v") or [])
            elif kind == "tag":
                tags.append(RunTag(str(name), "" if rec.get("v") is None else str(rec.get("v"))))
                continue
            else:
                continue
            for value in values:
                if isinstance(value, (int, float)):  # bools too, as 0/1
                    step = rec.get("s")
                    if step is None:
                        step = steps.get(name, 0)
                    steps[name] = int(step) + 1
                    metrics.append(Metric(str(name), float(value), ts, int(step)))
        for i in range(0, len(metrics), MAX_BATCH):
            self.client.log_batch(mlflow_run_id, metrics=metrics[i:i + MAX_BATCH])
        self.set_tags(mlflow_run_id, {tag.key: tag.value for tag in tags})

    def set_tags(self, mlflow_run_id: str, tags: dict[str, str]) -> None:
        items = [RunTag(k, ("" if v is None else str(v))[:MAX_TAG_VALUE]) for k, v in tags.items()]
        for i in range(0, len(items), MAX_PARAMS):
            self.client.log_batch(mlflow_run_id, tags=items[i:i + MAX_PARAMS])

    def get_tags(self, mlflow_run_id: str) -> dict[str, str]:
        return dict(self.client.get_run(mlflow_run_id).data.tags)

    def terminate(self, mlflow_run_id: str, status: RunStatus, end_time: float) -> None:
        self.client.set_terminated(mlflow_run_id, _TERMINAL[status], end_time=int(end_time * 1000))

    def log_artifacts(self, mlflow_run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None) -> None:
        if Path(local_dir).is_dir() and any(Path(local_dir).iterdir()):
            self.client.log_artifacts(mlflow_run_id, os.fspath(local_dir), artifact_path)

    def log_artifact(self, mlflow_run_id: str, local_file: str | os.PathLike[str], artifact_path: str | None) -> None:
        self.client.log_artifact(mlflow_run_id, os.fspath(local_file), artifact_path)

    def list_artifacts(self, mlflow_run_id: str, path: str | None = None) -> list[str]:
        out: list[str] = []
        for info in self.client.list_artifacts(mlflow_run_id, path):
            if info.is_dir:
                out.extend(self.list_artifacts(mlflow_run_id, info.path))
            else:
                out.append(info.path)
        return sorted(out)

    def download(self, mlflow_run_id: str, name: str, dst_dir: str | os.PathLike[str]) -> str:
        os.makedirs(dst_dir, exist_ok=True)
        return self.client.download_artifacts(mlflow_run_id, name, os.fspath(dst_dir))

    def metric_history(self, mlflow_run_id: str) -> dict[str, list[float]]:
        """Every MLflow metric of the run (also those logged with plain ``mlflow.log_metric``)."""
        keys = self.client.get_run(mlflow_run_id).data.metrics.keys()
        out = {}
        for key in keys:
            history = sorted(self.client.get_metric_history(mlflow_run_id, key), key=lambda m: (m.step, m.timestamp))
            out[key] = [m.value for m in history]
        return out
