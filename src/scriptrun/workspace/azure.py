"""v1's Azure-only names, accepted so that v1 code runs unchanged: authentication classes,
``set_diagnostics_collection``, the default docker image names, and the one-time note that
Azure arguments (subscription, resource group, auth…) are ignored. Nothing here talks to Azure.
"""

from __future__ import annotations

import sys
from typing import Any

# v1 1.61's defaults; locally an image is only used when a job asks for docker.
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20251130.v1"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"

LOCAL_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "local"
LOCAL_LOCATION = "local"

_noted: set[str] = set()


def note_azure_arguments_ignored(where: str, names: list[str]) -> None:
    """Print, once per process and call site, that Azure arguments were ignored."""
    given = sorted(n for n in names if n)
    if not given or where in _noted:
        return
    _noted.add(where)
    print(f"scriptrun: {where}: Azure arguments ({', '.join(given)}) are ignored; "
          "using the local workspace", file=sys.stderr)


class _AcceptedAuthentication:
    """Base of v1's authentication classes: accepted and ignored (there is nothing to log in to)."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._args, self._kwargs = args, kwargs

    def get_authentication_header(self) -> dict[str, str]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}() (ignored: scriptrun is local)"


class InteractiveLoginAuthentication(_AcceptedAuthentication):
    """v1's interactive Azure login: accepted, does nothing."""


class ServicePrincipalAuthentication(_AcceptedAuthentication):
    """v1's service-principal login: accepted, does nothing."""


class AzureCliAuthentication(_AcceptedAuthentication):
    """v1's Azure CLI login: accepted, does nothing."""


class MsiAuthentication(_AcceptedAuthentication):
    """v1's managed-identity login: accepted, does nothing."""


def set_diagnostics_collection(send_diagnostics: bool = True, *, reset: bool = False) -> None:
    """v1's telemetry switch: scriptrun sends nothing, so this does nothing."""
