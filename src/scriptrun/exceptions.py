"""v1's ``azureml.exceptions`` (re-exported; no logic here). v1's base classes
``AzureMLException`` and ``UserErrorException`` are scriptrun's ``ScriptrunError``."""

from scriptrun.compute.targets import ComputeTargetException
from scriptrun.errors import ActivityFailedException
from scriptrun.errors import ScriptrunError as AzureMLException
from scriptrun.errors import ScriptrunError as UserErrorException

__all__ = ["ActivityFailedException", "AzureMLException", "ComputeTargetException", "UserErrorException"]
