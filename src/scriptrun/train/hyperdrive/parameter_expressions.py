"""v1's ``azureml.train.hyperdrive.parameter_expressions`` (re-exports, no logic)."""

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

__all__ = ["choice", "lognormal", "loguniform", "normal", "qlognormal", "qloguniform", "qnormal", "quniform",
           "randint", "uniform"]
