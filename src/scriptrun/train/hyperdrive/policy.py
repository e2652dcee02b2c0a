"""v1's ``azureml.train.hyperdrive.policy`` (re-exports, no logic)."""

from scriptrun.hyperdrive.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
)

__all__ = ["BanditPolicy", "EarlyTerminationPolicy", "MedianStoppingPolicy", "NoTerminationPolicy",
           "TruncationSelectionPolicy"]
