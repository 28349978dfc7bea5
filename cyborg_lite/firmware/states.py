"""The states of rollouts and of their jobs, and which job transitions are allowed.

A job moves forward only: a repeated or late message (the same result delivered twice, an old
progress report after the result) cannot move it back, so duplicates change nothing.
"""

from __future__ import annotations

# Rollout states.
RUNNING = "running"
PAUSED = "paused"
HALTED = "halted"
COMPLETED = "completed"
ABORTED = "aborted"
FAILED = "failed"
ROLLOUT_STATES = (RUNNING, PAUSED, HALTED, COMPLETED, ABORTED, FAILED)
UNFINISHED = frozenset({RUNNING, PAUSED, HALTED})

# Rollout kinds: an operator's rollout (NULL), or the one-device rollout behind a deployable's
# program request or a program at bind.
PROGRAM = "program"

# Job states.
PENDING = "pending"
DRAINING = "draining"
DISPATCHED = "dispatched"
FLASHING = "flashing"
VERIFYING = "verifying"
SUCCEEDED = "succeeded"
JOB_FAILED = "failed"
SKIPPED = "skipped"
PENDING_ACTIVATION = "pending_activation"
CANCELLED = "cancelled"

JOB_STATES = (
    PENDING,
    DRAINING,
    DISPATCHED,
    FLASHING,
    VERIFYING,
    SUCCEEDED,
    JOB_FAILED,
    SKIPPED,
    PENDING_ACTIVATION,
    CANCELLED,
)
IN_FLIGHT = frozenset({DRAINING, DISPATCHED, FLASHING, VERIFYING})
TERMINAL = frozenset({SUCCEEDED, JOB_FAILED, SKIPPED, PENDING_ACTIVATION, CANCELLED})
# Jobs that count against a wave's failure budget.
FAILURES = frozenset({JOB_FAILED})

_RANK = {PENDING: 0, DRAINING: 1, DISPATCHED: 2, FLASHING: 3, VERIFYING: 4}


def can_move(old: str, new: str) -> bool:
    """True when a job in ``old`` may move to ``new``.

    Forward through the in-flight states to a terminal one; ``pending_activation`` settles to
    ``succeeded`` or ``failed`` once the device reports after activation.
    """
    if old == new:
        return False
    if old == PENDING_ACTIVATION:
        return new in (SUCCEEDED, JOB_FAILED)
    if old in TERMINAL:
        return False
    if new in TERMINAL:
        return True
    return _RANK[new] > _RANK[old]


def sources(new: str) -> list[str]:
    """Every state a job may move to ``new`` from (for a conditional update: a progress cast
    and the result may be applied in either order by two threads, and whichever commits
    second must still apply if it moves the job forward)."""
    return [old for old in JOB_STATES if can_move(old, new)]
