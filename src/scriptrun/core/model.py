"""v1's ``azureml.core.model`` (re-exported; no logic here)."""

from scriptrun.models import Model

__all__ = ["Model"]
