"""v1's ``azureml.train.hyperdrive.runconfig`` (re-exports, no logic)."""

from scriptrun.hyperdrive.config import (
    MAX_DURATION_MINUTES,
    HyperDriveConfig,
    HyperDriveRunConfig,
    PrimaryMetricGoal,
)

__all__ = ["MAX_DURATION_MINUTES", "HyperDriveConfig", "HyperDriveRunConfig", "PrimaryMetricGoal"]
