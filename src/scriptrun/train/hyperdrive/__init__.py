"""v1's ``azureml.train.hyperdrive``: sweeps of one ScriptRunConfig (re-exports, no logic)."""

from scriptrun.hyperdrive.config import (
    MAX_DURATION_MINUTES,
    HyperDriveConfig,
    HyperDriveRunConfig,
    PrimaryMetricGoal,
)
from scriptrun.hyperdrive.expressions import (
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
)
from scriptrun.hyperdrive.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
)
from scriptrun.hyperdrive.run import HyperDriveRun
from scriptrun.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperParameterSampling,
    RandomParameterSampling,
)
from scriptrun.hyperdrive.yamlfile import load_hyperdrive_yaml

__all__ = [
    "MAX_DURATION_MINUTES",
    "BanditPolicy",
    "BayesianParameterSampling",
    "EarlyTerminationPolicy",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveRun",
    "HyperDriveRunConfig",
    "HyperParameterSampling",
    "MedianStoppingPolicy",
    "NoTerminationPolicy",
    "PrimaryMetricGoal",
    "RandomParameterSampling",
    "TruncationSelectionPolicy",
    "choice",
    "load_hyperdrive_yaml",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
]
