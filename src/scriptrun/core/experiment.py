"""v1's ``azureml.core.experiment`` (re-exported; no logic here)."""

from scriptrun.runs.experiment import Experiment

__all__ = ["Experiment"]
