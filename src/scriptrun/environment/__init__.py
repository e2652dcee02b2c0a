"""Environments: where a job's Python comes from (v1's ``Environment`` and ``CondaDependencies``)."""

from scriptrun.environment.conda import CondaDependencies
from scriptrun.environment.environment import DockerSection, Environment, PythonSection

__all__ = ["CondaDependencies", "DockerSection", "Environment", "PythonSection"]
