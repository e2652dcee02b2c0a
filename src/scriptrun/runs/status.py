"""Run statuses, in the v1 vocabulary, and the rule that terminal states are final."""

from __future__ import annotations

from enum import Enum


class RunStatus(str, Enum):
    """v1's ``RunStatus`` strings. Unknown strings are treated as running by waiters."""

    NOT_STARTED = "NotStarted"
    UNAPPROVED = "Unapproved"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    PROVISIONING = "Provisioning"
    STARTING = "Starting"
    RUNNING = "Running"
    NOT_RESPONDING = "NotResponding"
    CANCEL_REQUESTED = "CancelRequested"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    def __str__(self) -> str:
        return self.value

    def is_terminal(self) -> bool:
        return self in TERMINAL

    @classmethod
    def list(cls) -> list[str]:
        return [s.value for s in cls]


TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})


def is_terminal(status: str) -> bool:
    return status in {s.value for s in TERMINAL}
