"""v1's ``azureml.core.environment`` (re-exported; no logic here)."""

from scriptrun.environment import CondaDependencies, DockerSection, Environment, PythonSection

__all__ = ["CondaDependencies", "DockerSection", "Environment", "PythonSection"]
