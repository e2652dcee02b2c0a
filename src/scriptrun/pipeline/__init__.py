"""Pipelines: steps (each a job with a place in a graph), data between them, parameters, and
the pure decision logic that the agent's controller host drives.

The v1 module paths are :mod:`scriptrun.pipeline.core` and :mod:`scriptrun.pipeline.steps`.
This package's ``__init__`` stays empty so that the agent, loading
``scriptrun.pipeline.controller``, imports only the controller and what it needs.
"""
