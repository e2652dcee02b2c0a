"""v1's ``azureml.core.run`` (re-exported; no logic here)."""

from scriptrun.runs.run import Run

__all__ = ["Run"]
