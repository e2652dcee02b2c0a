"""v1's ``azureml.pipeline.steps``: re-exports only.

EstimatorStep (with the estimators) and HyperDriveStep (with sweeps) are added here by
their owners.
"""

from scriptrun.pipeline.command_step import CommandStep
from scriptrun.pipeline.python_script_step import PythonScriptStep

__all__ = ["CommandStep", "PythonScriptStep"]
