"""Experiments, run handles, the in-script run context, statuses and metrics."""
