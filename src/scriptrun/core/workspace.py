"""v1's ``azureml.core.workspace`` (re-exported; no logic here)."""

from scriptrun.workspace import Workspace

__all__ = ["Workspace"]
