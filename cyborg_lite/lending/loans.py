"""A loan's states, the reclaim rule and a loan's account (duration and energy).

States: ``active`` -> ``reclaiming`` -> ``closed``, and ``active`` -> ``closed`` when the
borrower's ARQ is unbound or deleted first. Like firmware jobs, a loan only moves forward, so
a repeated or late decision changes nothing.

The reclaim rule keeps the promise "a loan never outlives its window by more than
``notice_seconds`` plus one engine pass": the engine passes over a pool at each due time
(``windows.next_change`` and the earliest ``reclaim_deadline``) and on every event. At each
pass ``decide`` says which active loans start reclaiming (the window is closed, or the owner
asked for the device back), with ``reclaim_deadline = now + notice_seconds``, and which
reclaiming loans are past their deadline (act with the pool's ``on_reclaim``). The decision
reads only stored facts, so a conductor that restarts mid-notice decides the same again.
The deadline counts from the pass, not the window's end: a borrower always gets its whole
notice, even after an engine outage (the bound then stretches by the outage).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Collection, Iterable

ACTIVE = "active"
RECLAIMING = "reclaiming"
CLOSED = "closed"
STATES = (ACTIVE, RECLAIMING, CLOSED)
OPEN = frozenset({ACTIVE, RECLAIMING})

_MOVES = {ACTIVE: frozenset({RECLAIMING, CLOSED}), RECLAIMING: frozenset({CLOSED})}

# The on_reclaim actions that enforce the deadline, and the Nova server statuses in which each
# has taken effect (the guest no longer runs on the device, so the device may go back to its
# owner): the state asked for, or one further along. ``GONE`` stands for a server Nova no
# longer knows (404) as well as for DELETED. ``notify`` enforces nothing: it trusts the
# borrower to unbind.
GONE = "DELETED"
_OFF = frozenset({"SHELVED", "SHELVED_OFFLOADED", "SOFT_DELETED", GONE})
TAKEN_EFFECT: dict[str, frozenset[str]] = {
    "stop": _OFF | {"SHUTOFF"},
    "shelve": _OFF,
    "delete": frozenset({"SOFT_DELETED", GONE}),
}


def took_effect(action: str, status: str | None) -> bool:
    """True when a server in Nova ``status`` (None: unknown) shows ``action`` done."""
    return status is not None and status.upper() in TAKEN_EFFECT.get(action, frozenset())


def can_move(old: str, new: str) -> bool:
    """True when a loan in ``old`` may move to ``new`` (forward only)."""
    return new in _MOVES.get(old, frozenset())


def sources(new: str) -> tuple[str, ...]:
    """The states a loan may move to ``new`` from: the guard of a conditional update."""
    return tuple(s for s in STATES if can_move(s, new))


def reclaim_deadline(now: dt.datetime, notice_seconds: int) -> dt.datetime:
    """When a loan that starts reclaiming at ``now`` must be given back."""
    if notice_seconds < 0:
        raise ValueError(f"notice_seconds {notice_seconds} is negative")
    return now + dt.timedelta(seconds=notice_seconds)


@dataclasses.dataclass(frozen=True)
class LoanFacts:
    """What the rule needs of one loan of the pool: ``arq_bound`` is False once the
    borrower's ARQ is unbound or deleted; ``reclaim_deadline`` is set while reclaiming."""

    uuid: str
    device_uuid: str
    state: str
    reclaim_deadline: dt.datetime | None = None
    arq_bound: bool = True


@dataclasses.dataclass(frozen=True)
class Decision:
    """One pass over a pool's loans (uuids, sorted).

    ``close``: open loans whose ARQ is gone (the device is back already). ``reclaim``: active
    loans to move to ``reclaiming`` with ``deadline``, and to announce. ``act``: reclaiming
    loans past their deadline, for the pool's ``on_reclaim``; they stay reclaiming until the
    action has taken effect (``took_effect``: the engine then takes the ARQ back) or the
    borrower unbinds, so a failed action is retried at a later pass. ``next_due``: the earliest
    deadline still ahead (the new ones included), the engine's next due time for the loans.
    """

    close: tuple[str, ...]
    reclaim: tuple[str, ...]
    deadline: dt.datetime
    act: tuple[str, ...]
    next_due: dt.datetime | None


def decide(
    loans: Iterable[LoanFacts],
    *,
    now: dt.datetime,
    window_open: bool,
    notice_seconds: int,
    reclaim_devices: Collection[str] = (),
) -> Decision:
    """The pass at ``now``: ``window_open`` from ``windows.is_open``; ``reclaim_devices`` the
    devices the owner asked back (an explicit reclaim, all of the pool's when it named none,
    resolved by the caller)."""
    deadline = reclaim_deadline(now, notice_seconds)
    close: list[str] = []
    reclaim: list[str] = []
    act: list[str] = []
    ahead: list[dt.datetime] = []
    for loan in sorted(loans, key=lambda x: x.uuid):
        if loan.state not in OPEN:
            continue
        if not loan.arq_bound:
            close.append(loan.uuid)
        elif loan.state == ACTIVE:
            if not window_open or loan.device_uuid in reclaim_devices:
                reclaim.append(loan.uuid)
                ahead.append(deadline)
        elif loan.reclaim_deadline is None or loan.reclaim_deadline <= now:
            # A reclaiming loan without a deadline is a broken row; acting is the safe side.
            act.append(loan.uuid)
        else:
            ahead.append(loan.reclaim_deadline)
    return Decision(
        close=tuple(close),
        reclaim=tuple(reclaim),
        deadline=deadline,
        act=tuple(act),
        next_due=min(ahead, default=None),
    )


def duration_seconds(
    started_at: dt.datetime, ended_at: dt.datetime | None, now: dt.datetime
) -> int:
    """Whole seconds lent: to ``ended_at``, or to ``now`` while open; never negative."""
    end = ended_at if ended_at is not None else now
    return max(0, math.floor((end - started_at).total_seconds()))


def energy_kwh(intervals: Iterable[tuple[float, float | None]]) -> float | None:
    """The energy of a series of ``(seconds, watts)`` intervals in kWh.

    An interval whose power is unknown (``None``) stays unknown: it adds nothing, it is not
    guessed. So the result is the energy of the known part only, a lower bound when some
    power was unknown, and None when no interval's power is known (an empty series
    included): a device that cannot measure power is not a device that used none.
    """
    joules = 0.0
    known = False
    for seconds, watts in intervals:
        if seconds < 0 or (watts is not None and watts < 0):
            raise ValueError(f"interval ({seconds}, {watts}) is negative")
        if watts is not None:
            joules += seconds * watts
            known = True
    return joules / 3_600_000 if known else None
