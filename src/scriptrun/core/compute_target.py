"""v1's ``azureml.core.compute_target`` (re-exported; no logic here)."""

from scriptrun.compute.targets import ComputeTarget, ComputeTargetException

__all__ = ["ComputeTarget", "ComputeTargetException"]
