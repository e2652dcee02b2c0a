"""The per-workspace agent (server), its client, and the per-run shim."""
