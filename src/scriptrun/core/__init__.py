"""v1's ``azureml.core``: the names v1 code imports from it (re-exported; no logic here)."""

from scriptrun import VERSION
from scriptrun.compute.targets import ComputeTarget
from scriptrun.config import RunConfiguration, ScriptRunConfig
from scriptrun.data import Dataset, Datastore
from scriptrun.environment import Environment
from scriptrun.models import Model
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run
from scriptrun.workspace import Workspace

__all__ = ["VERSION", "ComputeTarget", "Dataset", "Datastore", "Environment", "Experiment", "Model", "Run",
           "RunConfiguration", "ScriptRunConfig", "Workspace"]
