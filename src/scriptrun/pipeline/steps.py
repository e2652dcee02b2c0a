"""v1's ``azureml.pipeline.steps``: re-exports only."""

from scriptrun.pipeline.command_step import CommandStep
from scriptrun.pipeline.estimator_step import EstimatorStep
from scriptrun.pipeline.hyperdrive_step import HyperDriveStep
from scriptrun.pipeline.python_script_step import PythonScriptStep

__all__ = ["CommandStep", "EstimatorStep", "HyperDriveStep", "PythonScriptStep"]
