"""A device's idleness from one summary to the next: ``last_busy`` and ``idle_since``.

The conductor keeps both per device (``device_usage``). A busy interval sets ``last_busy`` to
the interval's last busy sample (about now for a busy device) and clears ``idle_since``; an
idle interval keeps ``idle_since``, or starts it at the last time the device was seen busy,
else at the interval's start; an interval that could not tell clears ``idle_since`` (unknown
is not idle) and keeps ``last_busy``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class Idleness:
    """A device's ``last_busy`` and ``idle_since`` (None: never seen busy / not idle)."""

    last_busy: dt.datetime | None
    idle_since: dt.datetime | None


def advance(
    before: Idleness,
    *,
    busy: bool | None,
    interval_start: dt.datetime,
    interval_end: dt.datetime,
    last_busy_in_interval: dt.datetime | None,
) -> Idleness:
    """``before`` after one more interval's summary."""
    if busy:
        return Idleness(last_busy=last_busy_in_interval or interval_end, idle_since=None)
    if busy is None:
        return Idleness(last_busy=before.last_busy, idle_since=None)
    if before.idle_since is not None:
        return before
    since = before.last_busy if before.last_busy is not None else interval_start
    # A last_busy older than a gap in the reports is still when idleness began.
    return Idleness(last_busy=before.last_busy, idle_since=min(since, interval_start))


def idle_seconds(idleness: Idleness, now: dt.datetime) -> float | None:
    """How long the device has been idle at ``now``; None when it is not idle."""
    if idleness.idle_since is None:
        return None
    return max(0.0, (now - idleness.idle_since).total_seconds())
