"""Compute backends. ``local`` runs jobs on this machine through the agent and a shim."""
