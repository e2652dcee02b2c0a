"""v1's ``azureml.core.conda_dependencies`` (re-exported; no logic here)."""

from scriptrun.environment import CondaDependencies

__all__ = ["CondaDependencies"]
