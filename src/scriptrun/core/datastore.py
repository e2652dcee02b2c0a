"""v1's ``azureml.core.datastore`` (re-exported; no logic here)."""

from scriptrun.data import Datastore

__all__ = ["Datastore"]
