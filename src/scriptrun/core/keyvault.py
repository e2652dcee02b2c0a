"""v1's ``azureml.core.keyvault`` (re-exported; no logic here)."""

from scriptrun.workspace.keyvault import Keyvault

__all__ = ["Keyvault"]
