"""v1's ``azureml.core.authentication``: accepted and ignored (re-exported; no logic here)."""

from scriptrun.workspace.azure import (
    AzureCliAuthentication,
    InteractiveLoginAuthentication,
    MsiAuthentication,
    ServicePrincipalAuthentication,
)

__all__ = ["AzureCliAuthentication", "InteractiveLoginAuthentication", "MsiAuthentication",
           "ServicePrincipalAuthentication"]
