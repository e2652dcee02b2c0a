"""v1's ``azureml.core.container_registry`` (re-exported; no logic here)."""

from scriptrun.environment.environment import ContainerRegistry

__all__ = ["ContainerRegistry"]
