"""v1's ``azureml.core.dataset`` (re-exported; no logic here)."""

from scriptrun.data import Dataset

__all__ = ["Dataset"]
