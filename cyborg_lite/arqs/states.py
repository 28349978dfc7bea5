"""ARQ states (contract §10.1), which transitions they allow, and the bind rules that need no
database: what counts as resolved, which devices may be bound, and Nova's view of a bind.

The firmware job states are their sibling (``firmware/states.py``); the SQL that applies
these rules is ``db/binding.py`` and the use cases ``usecases/arqs.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

INITIAL = "Initial"
BIND_STARTED = "BindStarted"
BOUND = "Bound"
BIND_FAILED = "BindFailed"
UNBOUND = "Unbound"
DELETING = "Deleting"
STATES = (INITIAL, BIND_STARTED, BOUND, BIND_FAILED, UNBOUND, DELETING)
# Binding is over for these: Nova stops waiting.
RESOLVED = frozenset({BOUND, BIND_FAILED, DELETING})

# Target state -> the states it may be entered from.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    BIND_STARTED: frozenset({INITIAL, UNBOUND}),
    BOUND: frozenset({BIND_STARTED}),
    UNBOUND: frozenset({INITIAL, BIND_STARTED, BOUND, BIND_FAILED}),
    BIND_FAILED: frozenset({BIND_STARTED, BOUND}),
    DELETING: frozenset(set(STATES) - {DELETING}),
}

# A device in maintenance is never bound.
MAINTAINING = "maintaining"


@dataclasses.dataclass(frozen=True)
class BindTarget:
    """Where Nova placed an ARQ: the compute node, the deployable's RP and the instance."""

    hostname: str
    device_rp_uuid: str
    instance_uuid: str
    project_id: str | None = None


def can_transition(current: str, target: str) -> bool:
    """True when an ARQ in ``current`` may move to ``target``."""
    return current in ALLOWED_FROM[target]


def is_resolved(state: str) -> bool:
    """True when binding is over for an ARQ in ``state`` (Nova stops waiting)."""
    return state in RESOLVED


def schedulable(status: str, firmware_drain: str | None) -> bool:
    """False for a device in maintenance or drained for a firmware job: never bound."""
    return status != MAINTAINING and firmware_drain is None


def bound_instances(
    targets: Mapping[str, BindTarget], states: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """``{arq uuid: (instance uuid, final state)}`` of a finished bind batch, for Nova."""
    return {uuid: (targets[uuid].instance_uuid, state) for uuid, state in states.items()}
