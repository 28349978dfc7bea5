"""Which devices of a pool are offered at ``now``, and why each other one is not.

A device is offered while a window is open when it is usable, not bound, idle for at least
``min_idle_seconds`` and not in the reserve. The decision is pure and deterministic (the same
facts give the same answer, whatever their order), so the engine can recompute it on every
pass and apply only the difference to the traits.

The reserve (``Reserve.size`` of all the pool's devices) is filled in this order:

1. devices the owner has bound itself: an owner already using a device is using its reserve;
2. then the other devices that are usable and not on loan, busiest most recently first
   (``last_busy`` descending, never-busy last), ties by uuid: the owner keeps the devices it
   was just using, and the ones idle longest are lent;
3. never a device on loan or unusable: a reserve raised while devices are lent is filled as
   loans end (the owner reclaims explicitly when it cannot wait), and a disabled device or one
   on a down host serves nobody.

Each device not offered gets one reason, the first that applies of: ``window_closed`` (no
window open: nothing is offered), ``unusable``, ``bound`` (by the owner or on loan),
``reclaimed`` (the owner took it back explicitly: withheld until the end of the window that
was open then, ``withheld_until``), ``reserve``, ``not_idle`` (not idle, idleness unknown, or
idle for less than ``min_idle_seconds``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from cyborg_lite.lending import pools

WINDOW_CLOSED = "window_closed"
UNUSABLE = "unusable"
BOUND = "bound"
RESERVE = "reserve"
NOT_IDLE = "not_idle"
RECLAIMED = "reclaimed"
REASONS = (WINDOW_CLOSED, UNUSABLE, BOUND, RECLAIMED, RESERVE, NOT_IDLE)


@dataclasses.dataclass(frozen=True)
class DeviceFacts:
    """What the rule needs of one device of the pool, read by the caller.

    ``bound``: an ARQ is bound to it (the owner's or a borrower's); ``on_loan``: that ARQ is a
    borrower's, under a loan; ``usable``: enabled and on a live host; ``idle_since`` and
    ``last_busy`` as ``usage.idle`` keeps them.
    """

    uuid: str
    idle_since: dt.datetime | None
    bound: bool = False
    on_loan: bool = False
    last_busy: dt.datetime | None = None
    usable: bool = True
    # Set by an explicit reclaim: not offered again before this instant (aware).
    withheld_until: dt.datetime | None = None

    @property
    def bound_by_owner(self) -> bool:
        """True when the owner itself uses it."""
        return self.bound and not self.on_loan


@dataclasses.dataclass(frozen=True)
class Offers:
    """The decision: ``offered`` and ``reserved`` as sorted uuids, ``withheld`` maps every
    device not offered to its reason (one of ``REASONS``)."""

    offered: tuple[str, ...]
    reserved: tuple[str, ...]
    withheld: Mapping[str, str]


_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def _reserve_order(device: DeviceFacts) -> tuple[int, float, str]:
    # Owner-bound first, then most recently busy (a negated timestamp sorts latest first;
    # never busy sorts as the oldest), then uuid for a stable, total order.
    busy = device.last_busy or _EPOCH
    return (0 if device.bound_by_owner else 1, -busy.timestamp(), device.uuid)


def reserved(devices: Sequence[DeviceFacts], reserve: pools.Reserve) -> tuple[str, ...]:
    """The uuids the reserve keeps (sorted), chosen as the module docstring says."""
    candidates = sorted((d for d in devices if d.usable and not d.on_loan), key=_reserve_order)
    keep = candidates[: reserve.size(len(devices))]
    return tuple(sorted(d.uuid for d in keep))


def is_idle_enough(device: DeviceFacts, min_idle_seconds: int, now: dt.datetime) -> bool:
    """True when ``device`` has been idle at least ``min_idle_seconds`` at ``now``; unknown
    idleness is not idle, and an ``idle_since`` after ``now`` (clock skew) counts as 0 s."""
    if device.idle_since is None:
        return False
    return max(0.0, (now - device.idle_since).total_seconds()) >= min_idle_seconds


def decide(
    devices: Iterable[DeviceFacts],
    *,
    reserve: pools.Reserve,
    min_idle_seconds: int,
    window_open: bool,
    now: dt.datetime,
) -> Offers:
    """Which of the pool's ``devices`` are offered at ``now`` (aware)."""
    ordered = sorted(devices, key=lambda d: d.uuid)
    if len({d.uuid for d in ordered}) != len(ordered):
        raise ValueError("a device is listed twice")
    kept = set(reserved(ordered, reserve))
    offered: list[str] = []
    withheld: dict[str, str] = {}
    for device in ordered:
        if not window_open:
            withheld[device.uuid] = WINDOW_CLOSED
        elif not device.usable:
            withheld[device.uuid] = UNUSABLE
        elif device.bound:
            withheld[device.uuid] = BOUND
        elif device.withheld_until is not None and now < device.withheld_until:
            withheld[device.uuid] = RECLAIMED
        elif device.uuid in kept:
            withheld[device.uuid] = RESERVE
        elif not is_idle_enough(device, min_idle_seconds, now):
            withheld[device.uuid] = NOT_IDLE
        else:
            offered.append(device.uuid)
    return Offers(offered=tuple(offered), reserved=tuple(sorted(kept)), withheld=withheld)


def may_borrow(pool: pools.Pool, offers: Offers, device_uuid: str, project_id: str) -> str | None:
    """Why a borrower project's ARQ may not bind ``device_uuid`` of ``pool`` (the text for the
    ARQ's ``error``), or None when it may: the device must be offered now and the project one
    of the pool's borrowers. The owner's own binds are not loans and do not come here."""
    if not pool.lends_to(project_id):
        return f"Project {project_id} may not borrow from pool {pool.name}."
    if device_uuid not in offers.offered:
        why = offers.withheld.get(device_uuid, "not in the pool")
        return f"Device {device_uuid} of pool {pool.name} is not offered ({why})."
    return None
