"""v1's ``azureml.widgets`` (re-exported; no logic here)."""

from scriptrun.run_details import RunDetails

__all__ = ["RunDetails"]
