"""v1's ``azureml.train.hyperdrive.sampling`` (re-exports, no logic)."""

from scriptrun.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperParameterSampling,
    RandomParameterSampling,
)

__all__ = ["BayesianParameterSampling", "GridParameterSampling", "HyperParameterSampling", "RandomParameterSampling"]
