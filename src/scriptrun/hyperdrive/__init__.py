"""HyperDrive sweeps: parameter expressions, samplers, early-termination policies, the sweep
controller the agent hosts, and the client classes (``HyperDriveConfig``, ``HyperDriveRun``).

The decision logic (``expressions``, ``sampling``, ``policy``, ``trial``, ``controller``) is pure:
it imports neither the agent's server nor MLflow, and optuna only when a Bayesian sweep asks for
a suggestion. The public names are re-exported under v1's path ``scriptrun.train.hyperdrive``.
"""
