"""v1's ``azureml.data.data_reference`` (re-exported; no logic here)."""

from scriptrun.data.datapath import DataReference

__all__ = ["DataReference"]
