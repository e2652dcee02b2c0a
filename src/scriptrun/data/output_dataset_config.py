"""v1's ``azureml.data.output_dataset_config`` (re-exported; no logic here)."""

from scriptrun.data.output import OutputFileDatasetConfig

__all__ = ["OutputFileDatasetConfig"]
