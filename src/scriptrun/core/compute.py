"""v1's ``azureml.core.compute`` (re-exported; no logic here). ``AmlCompute`` is only a name
locally: see ``scriptrun.compute.targets`` for how v1 cluster names map to local or Ray targets."""

from scriptrun.compute.targets import AmlCompute, ComputeTarget, RayCluster

__all__ = ["AmlCompute", "ComputeTarget", "RayCluster"]
