"""v1's ``azureml.telemetry``: scriptrun sends nothing (re-exported; no logic here)."""

from scriptrun.workspace.azure import set_diagnostics_collection

__all__ = ["set_diagnostics_collection"]
