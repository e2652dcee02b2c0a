"""The controller host: drives the parent runs whose children a controller decides.

The host feeds each controller (:mod:`scriptrun.agent.controllers`) its events — children's
status changes, their new metrics records, a tick every second — and carries out the actions
it returns through the agent's ordinary paths (creating, canceling, finishing runs). Before
carrying them out it persists, in the parent's ``controller.json``, the controller's state,
the actions (a write-ahead log) and how far it has read each child's metrics file; after,
it clears the actions. A restarted agent rebuilds the controller from that file, carries out
the actions left pending (each is idempotent), and delivers every child's status again, so
nothing is lost or done twice when an agent dies mid-pipeline or mid-sweep.
"""

from __future__ import annotations

import base64
import collections
import copy
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scriptrun.agent.controllers import (
    Action,
    CancelChild,
    ChildInfo,
    Controller,
    FinishParent,
    SubmitChild,
    UpdateParent,
    action_from_json,
    action_to_json,
    load_controller,
)
from scriptrun.agent.protocol import Submit
from scriptrun.agent.runstate import RunRecord
from scriptrun.data.datastore import Datastore
from scriptrun.errors import RunError
from scriptrun.rundir import (
    CONTROLLER_FILE,
    METRICS_FILE,
    MetricsWriter,
    RunKind,
    RunStatus,
    read_json,
    read_records,
    write_json_atomic,
)

if TYPE_CHECKING:
    from scriptrun.agent.server import Agent

log = logging.getLogger("scriptrun.agent.host")
TICK_SECONDS = 1.0
METRICS_SECONDS = 0.25
FILES_DIR = "files"
FILES_UPLOAD_SECONDS = 5.0  # a parent's files go to MLflow at most this often while it runs, and when it ends


@dataclass
class Hosted:
    """One parent run and its controller, as the host keeps them."""

    record: RunRecord
    path: str
    controller: Controller
    metric_offsets: dict[str, int] = field(default_factory=dict)
    canceling: bool = False
    finish: dict[str, Any] | None = None  # FinishParent decided, waiting for children to end
    lock: threading.Lock = field(default_factory=threading.Lock)
    files_logged_at: float = field(default_factory=time.monotonic)  # when its files last went to MLflow


class ControllerHost:
    def __init__(self, agent: Agent):
        self.agent = agent
        self.controllers: dict[str, Hosted] = {}
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()
        self._unseen: collections.Counter[str] = collections.Counter()  # parent → child events not yet handled
        self._unseen_lock = threading.Lock()

    # -- entry points ----------------------------------------------------------------------

    def load(self, path: str, state: dict[str, Any]) -> Controller:
        """The controller a submitter sent, rebuilt here (refused before its run is created)."""
        try:
            return load_controller(path, state)
        except Exception as exc:  # noqa: BLE001 - any failure to rebuild it is the submitter's problem
            raise RunError(f"the agent cannot load controller {path}: {type(exc).__name__}: {exc}") from None

    def start(self, record: RunRecord, path: str, controller: Controller) -> None:
        hosted = Hosted(record, path, controller)
        self.controllers[record.run_id] = hosted
        with hosted.lock:
            self._apply(hosted, hosted.controller.start())

    def recover(self, record: RunRecord) -> None:
        """Rebuild a parent's controller after an agent restart and catch it up."""
        if record.run_id in self.controllers:
            return  # a parent's recovery already restarted it (a child created, not yet started)
        saved = read_json(record.path / CONTROLLER_FILE)
        if not saved:
            self.agent.set_status(record, RunStatus.FAILED, error={
                "code": "SystemError", "message": f"the controller state of {record.run_id} was lost"})
            return
        hosted = Hosted(record, saved["controller"], load_controller(saved["controller"], saved["state"]),
                        dict(saved.get("metric_offsets") or {}), bool(saved.get("canceling")), saved.get("finish"))
        self.controllers[record.run_id] = hosted
        with hosted.lock:
            self._apply(hosted, [action_from_json(a) for a in saved.get("pending") or []])
        for child in self._children(record.run_id):
            self.notify(record.run_id, child.run_id)

    def notify(self, parent_run_id: str, child_run_id: str) -> None:
        if parent_run_id in self.controllers:
            with self._unseen_lock:
                self._unseen[parent_run_id] += 1
            self.events.put((parent_run_id, child_run_id))

    def deciding(self, parent_run_id: str | None) -> bool:
        """Whether the parent's controller has child events still to handle: its queued
        children wait (a failed child may cancel them)."""
        with self._unseen_lock:
            return bool(parent_run_id and self._unseen[parent_run_id] > 0)

    def _seen(self, parent_run_id: str) -> None:
        with self._unseen_lock:
            self._unseen[parent_run_id] -= 1
            if self._unseen[parent_run_id] <= 0:
                del self._unseen[parent_run_id]
        with self.agent.changed:  # the scheduler may start its queued children now
            self.agent.changed.notify_all()

    def cancel(self, parent_run_id: str) -> None:
        hosted = self.controllers.get(parent_run_id)
        if hosted is None:
            return
        with hosted.lock:
            hosted.canceling = True
            self._apply(hosted, hosted.controller.cancel())
            for child in self._children(parent_run_id):
                if not child.is_terminal:
                    self.agent.cancel_run(child, f"its parent {parent_run_id} was canceled")
            self._maybe_finish(hosted)

    def child_limit(self, parent_run_id: str | None) -> int | None:
        hosted = self.controllers.get(parent_run_id or "")
        return hosted.controller.max_concurrent_children if hosted else None

    # -- the loop ----------------------------------------------------------------------------

    def loop(self) -> None:
        last_tick = last_metrics = 0.0
        while not self.agent.stopping.is_set():
            try:
                parent_id, child_id = self.events.get(timeout=METRICS_SECONDS)
            except queue.Empty:
                parent_id = child_id = ""
            try:
                if parent_id:
                    try:
                        self._child_changed(parent_id, child_id)
                    finally:
                        self._seen(parent_id)
                now = time.time()
                if now - last_metrics >= METRICS_SECONDS:
                    last_metrics = now
                    for hosted in list(self.controllers.values()):
                        self._feed_metrics(hosted)
                if now - last_tick >= TICK_SECONDS:
                    last_tick = now
                    for hosted in list(self.controllers.values()):
                        with hosted.lock:
                            self._apply(hosted, hosted.controller.on_tick(now), save=False)
            except Exception:  # noqa: BLE001 - one broken controller must not stop the others
                log.exception("controller host")
                if parent_id in self.controllers:
                    self._fail(self.controllers[parent_id])

    def _child_changed(self, parent_id: str, child_id: str) -> None:
        hosted = self.controllers.get(parent_id)
        child = self.agent.records.get(child_id)
        if hosted is None or child is None:
            return
        with hosted.lock:
            if child.is_terminal:
                self._feed_metrics_of(hosted, child)
            info = ChildInfo(run_id=child.run_id, status=child.status, error=child.error,
                             properties=dict(child.properties), output_datasets=list(child.output_datasets),
                             reused_from=child.reused_from)
            self._apply(hosted, hosted.controller.on_child_status(info))

    def _feed_metrics(self, hosted: Hosted) -> None:
        """New metrics of the running children (an ended child's last ones went with its end)."""
        with hosted.lock:
            for child in self._children(hosted.record.run_id):
                if not child.is_terminal:
                    self._feed_metrics_of(hosted, child)

    def _feed_metrics_of(self, hosted: Hosted, child: RunRecord) -> None:
        source = self.agent.source_record(child)
        offset = hosted.metric_offsets.get(child.run_id, 0)
        records, new_offset = read_records(source.path / METRICS_FILE, offset)
        if records:
            hosted.metric_offsets[child.run_id] = new_offset
            self._apply(hosted, hosted.controller.on_metrics(child.run_id, records))

    # -- carrying out decisions -------------------------------------------------------------------

    def _save(self, hosted: Hosted, pending: list[Action]) -> None:
        write_json_atomic(hosted.record.path / CONTROLLER_FILE, {
            "controller": hosted.path, "state": hosted.controller.to_state(),
            "pending": [action_to_json(a) for a in pending], "metric_offsets": hosted.metric_offsets,
            "canceling": hosted.canceling, "finish": hosted.finish})

    def _apply(self, hosted: Hosted, actions: list[Action], *, save: bool = True) -> None:
        """Persist the controller's state with ``actions`` as pending, then carry them out (the
        caller holds ``hosted.lock``). ``save=False``: nothing changed unless there are actions.
        The pending list is not cleared afterwards: every action is idempotent, so a recovery
        that carries out again what was done already changes nothing (and the next event's
        save replaces the list) — one write per event instead of two."""
        if not actions and not save:
            return
        self._save(hosted, actions)
        for action in actions:
            if isinstance(action, SubmitChild):
                self._submit(hosted, action)
            elif isinstance(action, CancelChild):
                child = self.agent.records.get(action.run_id)
                if child is not None:
                    self.agent.cancel_run(child, action.reason)
            elif isinstance(action, UpdateParent):
                self._update(hosted, action)
            elif isinstance(action, FinishParent):
                hosted.finish = {"status": action.status, "error": action.error}
        self._maybe_finish(hosted)

    def _submit(self, hosted: Hosted, action: SubmitChild) -> None:
        request = action.request
        if hosted.canceling or hosted.finish is not None or hosted.record.is_terminal:
            return  # a canceled or finishing parent starts nothing new
        parent = hosted.record
        record = self.agent.create_run(Submit(
            run_id=request.run_id, experiment=parent.experiment, spec=request.spec, snapshot_id=request.snapshot_id,
            tags={**({"mlflow.runName": request.display_name} if request.display_name else {}), **request.tags},
            properties=request.properties, parent_run_id=parent.run_id,
            client_env=parent.client_env, client_python=parent.client_python, kind=RunKind(request.kind),
            target=str(request.spec.get("compute_target", "local")), reuse_key=request.reuse_key,
            reuse_components=request.reuse_components), allow_reuse=request.allow_reuse)
        if (request.controller and not record.is_terminal and record.run_id not in self.controllers
                and not (record.path / CONTROLLER_FILE).exists()):  # a controlled child: start its controller
            try:
                controller = self.load(request.controller, request.controller_state or {})
            except RunError as exc:
                self.agent.finish(record, RunStatus.FAILED, {"code": "SystemError", "message": str(exc)})
                return
            self.start(record, request.controller, controller)

    def _update(self, hosted: Hosted, action: UpdateParent) -> None:
        parent = hosted.record
        agent = self.agent
        with agent.lock:
            if action.tags:
                parent.tags.update(action.tags)
                agent.tracking.set_tags(parent.mlflow_run_id, dict(action.tags))
            if action.properties:
                parent.properties.update({k: str(v) for k, v in action.properties.items()})
            parent.save()
        if action.metrics:
            writer = MetricsWriter(parent.path / METRICS_FILE)
            for name, value in action.metrics.items():
                writer.write({"k": "m", "n": name, "v": value})
            writer.close()
        if action.files or action.images:
            folder = parent.path / FILES_DIR
            folder.mkdir(exist_ok=True)
            contents = {**{n: t.encode() for n, t in action.files.items()},
                        **{n: base64.b64decode(b) for n, b in action.images.items()}}
            for name, data in contents.items():
                (folder / Path(name).name).write_bytes(data)
            if time.monotonic() - hosted.files_logged_at >= FILES_UPLOAD_SECONDS:
                self._log_files(hosted)  # else at the next update after the pause, or at the end
        if action.outputs:
            entries = [self._output(parent, name, value) for name, value in action.outputs.items()]
            with agent.lock:
                parent.output_datasets = [e for e in parent.output_datasets if (e.get("outputDetails") or {})
                                          .get("outputName") not in action.outputs] + entries
                parent.save()

    def _log_files(self, hosted: Hosted) -> None:
        """The parent's files (step summary, graph, plot…) as MLflow artifacts: uploaded
        together, so a pipeline's per-step updates cost one upload, not one per step."""
        hosted.files_logged_at = time.monotonic()
        self.agent.tracking.log_artifacts(hosted.record.mlflow_run_id, hosted.record.path / FILES_DIR, None)

    def _output(self, parent: RunRecord, name: str, value: dict[str, Any]) -> dict[str, Any]:
        """The lineage entry of a parent's output: a child's entry passed on, or files written
        to ``value["path"]`` on datastore ``value["datastore"]``."""
        if "outputDetails" in value:
            entry = copy.deepcopy(value)
            entry["outputDetails"]["outputName"] = name
            return entry
        folder = parent.path / "data" / "outputs" / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, text in value["files"].items():
            (folder / Path(file_name).name).write_text(text)
        store = Datastore(self.agent.ws, value.get("datastore"))
        path = str(value["path"]).replace("{run-id}", parent.run_id).replace("{output-name}", name)
        files = sorted(str(p) for p in folder.iterdir())
        store.upload_files(files, relative_root=str(folder), target_path=path, overwrite=True, show_progress=False)
        return {"outputDetails": {"outputName": name, "mechanism": "upload", "datastore": store.name, "path": path,
                                  "url": store.full_url(path), "files": len(files)}, "dataset": None}

    def _maybe_finish(self, hosted: Hosted) -> None:
        """End the parent once a decision to finish (or a cancel) has met children that all ended."""
        if hosted.record.is_terminal or not (hosted.finish or hosted.canceling):
            return
        unfinished = [c for c in self._children(hosted.record.run_id) if not c.is_terminal]
        if unfinished:
            if hosted.finish:  # finishing early (a failed step, a sweep's limit): stop the rest
                for child in unfinished:
                    if child.run_id not in self.agent.cancel_reasons:
                        self.agent.cancel_run(child, f"its parent {hosted.record.run_id} is finishing")
            return
        if hosted.canceling:
            status, error = RunStatus.CANCELED, None
        else:
            status, error = RunStatus(hosted.finish["status"]), hosted.finish.get("error")
        self.agent.ingest(hosted.record)
        if (hosted.record.path / FILES_DIR).is_dir():
            self._log_files(hosted)
        self.agent.finish(hosted.record, status, error)
        self.controllers.pop(hosted.record.run_id, None)

    def _fail(self, hosted: Hosted) -> None:
        hosted.finish = {"status": RunStatus.FAILED.value,
                         "error": {"code": "SystemError", "message": "the parent's controller failed; "
                                                                     "see .scriptrun/agent.log"}}
        self._maybe_finish(hosted)

    def _children(self, parent_run_id: str) -> list[RunRecord]:
        with self.agent.lock:
            return [r for r in self.agent.records.values() if r.parent_run_id == parent_run_id]
