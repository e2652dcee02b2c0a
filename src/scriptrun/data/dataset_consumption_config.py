"""v1's ``azureml.data.dataset_consumption_config`` (re-exported; no logic here)."""

from scriptrun.data.consumption import DatasetConsumptionConfig

__all__ = ["DatasetConsumptionConfig"]
