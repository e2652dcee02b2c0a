"""Environments: where a job's Python comes from (v1's ``Environment`` and ``CondaDependencies``),
the cache of built virtual environments (``builder.py``) and the curated definitions."""

from scriptrun.environment.conda import CondaDependencies
from scriptrun.environment.environment import DockerSection, Environment, PythonSection

__all__ = ["CondaDependencies", "DockerSection", "Environment", "PythonSection"]
