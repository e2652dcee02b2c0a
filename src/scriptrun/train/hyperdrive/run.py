"""v1's ``azureml.train.hyperdrive.run`` (re-exports, no logic)."""

from scriptrun.hyperdrive.config import PrimaryMetricGoal
from scriptrun.hyperdrive.run import HyperDriveRun

__all__ = ["HyperDriveRun", "PrimaryMetricGoal"]
