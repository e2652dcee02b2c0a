"""v1's ``azureml.train.sklearn`` (re-exported; no logic here)."""

from scriptrun.config.estimator import SKLearn

__all__ = ["SKLearn"]
