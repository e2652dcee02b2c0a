"""v1's ``azureml.core.environment`` (re-exported; no logic here)."""

from scriptrun.environment import CondaDependencies, DockerSection, Environment, PythonSection
from scriptrun.environment.environment import ContainerRegistry, PlatformSection

__all__ = ["CondaDependencies", "ContainerRegistry", "DockerSection", "Environment", "PlatformSection",
           "PythonSection"]
