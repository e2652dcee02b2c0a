"""``Workspace``'s v1 asset views — ``ws.datastores``, ``ws.datasets``, ``ws.environments``,
``ws.compute_targets``, ``ws.experiments``, ``ws.models``, ``ws.get_default_datastore()``.

The assets are owned by packages above ``workspace/`` (data, environment, compute, runs), and
imports only go downward, so ``Workspace`` declares the views and this facade-level module
plugs in the functions that compute them (imported by ``scriptrun/__init__.py``, so they are
registered whenever any part of scriptrun is imported).
"""

from __future__ import annotations

from typing import Any

from scriptrun.compute.targets import LOCAL, ComputeTarget
from scriptrun.data.dataset import Dataset
from scriptrun.data.datastore import Datastore
from scriptrun.environment.environment import Environment
from scriptrun.models import Model
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import list_runs
from scriptrun.workspace import Workspace
from scriptrun.workspace.workspace import register_asset_view


def _compute_targets(ws: Workspace) -> dict[str, ComputeTarget]:
    names = [LOCAL, *ws.settings.compute_aliases, *(t.name for t in ComputeTarget.list(ws))]
    return {name: ComputeTarget(ws, name) for name in dict.fromkeys(names)}


def _experiments(ws: Workspace) -> dict[str, Experiment]:
    names = sorted({row.get("experiment") or row.get("experimentName") or "" for row in list_runs(ws)} - {""})
    return {name: Experiment(ws, name) for name in names}


def _models(ws: Workspace) -> dict[str, Any]:
    return {model.name: model for model in Model.list(ws, latest=True)}


register_asset_view("datastores", Datastore.list)
register_asset_view("default_datastore", Datastore.get_default)
register_asset_view("datasets", Dataset.get_all)
register_asset_view("environments", Environment.list)
register_asset_view("compute_targets", _compute_targets)
register_asset_view("experiments", _experiments)
register_asset_view("models", _models)
