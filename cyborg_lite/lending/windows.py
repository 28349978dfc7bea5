"""A pool's lending windows: parsing, and when they are open, in the pool's time zone.

Two kinds of window. A *weekly* window ``{"days": ["mon", ...], "start": "HH:MM", "end":
"HH:MM"}`` opens at ``start`` local time on each listed day; an ``end`` before the ``start``
ends on the next day (``fri 19:00-07:00`` closes Saturday morning). A *one-off* window
``{"starts_at", "ends_at"}`` is two ISO 8601 instants with their UTC offsets.

Arithmetic is done on wall-clock times in the pool's zone, then turned into UTC instants, so
a 19:00-07:00 window across a DST change is one window whose real length differs: Europe/Berlin
from 2026-03-28 19:00 to 2026-03-29 07:00 lasts 11 hours, from 2026-10-24 19:00 to 2026-10-25
07:00 lasts 13. Local times the change makes odd are resolved so:

- an *ambiguous* time (it happens twice when clocks go back) is its first occurrence, the one
  before the change (zoneinfo's ``fold=0``);
- a *nonexistent* time (skipped when clocks go forward) moves forward to the first instant that
  exists, the change itself: a start of 02:30 in Berlin on 2026-03-29 opens at 03:00 CEST. The
  same holds for an end, so a window entirely inside the gap is empty that day and is skipped.

Occurrences are half-open, ``[start, end)``. Occurrences that overlap or touch merge: the pool
is open while any window is, and the state changes only at the edges of the merged span. That
span is followed for ``HORIZON`` either way from ``now``; windows that chain without a gap for
longer (say 07:00-19:00 and 19:00-07:00 every day) report where the search stopped as the end,
and the engine's pass at that time finds the pool still open and looks again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cyborg_lite import exception

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKLY_FIELDS = frozenset({"days", "start", "end"})
ONE_OFF_FIELDS = frozenset({"starts_at", "ends_at"})

# How far from ``now`` overlapping occurrences are merged, and how far ahead a closed pool's
# next opening is looked for (weekly windows open at least once a week; twice that covers a
# week whose only occurrence fell into a DST gap).
HORIZON = dt.timedelta(days=7)
_LOOK_AHEAD = 2 * HORIZON + dt.timedelta(days=1)

_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_UTC = dt.UTC


@dataclasses.dataclass(frozen=True)
class Weekly:
    """Open from ``start`` to ``end`` (local, naive times) on each of ``days`` (0 is Monday);
    ``end`` before ``start`` ends the next day."""

    days: tuple[int, ...]
    start: dt.time
    end: dt.time

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "days": [DAYS[d] for d in self.days],
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


@dataclasses.dataclass(frozen=True)
class OneOff:
    """Open from ``starts_at`` to ``ends_at``, aware UTC instants."""

    starts_at: dt.datetime
    ends_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """The wire form (UTC, with its offset)."""
        return {"starts_at": self.starts_at.isoformat(), "ends_at": self.ends_at.isoformat()}


Window = Weekly | OneOff


@dataclasses.dataclass(frozen=True)
class Occurrence:
    """One span during which the pool is open: ``[start, end)``, aware UTC datetimes."""

    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> float:
        """Its real length."""
        return (self.end - self.start).total_seconds()


# -- parsing -------------------------------------------------------------------------------


def parse_timezone(name: Any) -> zoneinfo.ZoneInfo:
    """The zone named ``name`` (an IANA name such as ``Europe/Berlin``), or ``Invalid`` naming
    ``timezone``: for an unknown name, and for names the zone database cannot load at all (a
    directory such as ``Europe``, a path, a file that is not a zone, a name too long)."""
    if not isinstance(name, str) or not name:
        raise exception.Invalid(f"timezone: {name!r} is not a time zone name.")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as err:
        # OSError: a directory of the database ("Europe") or too long a name; ValueError: a
        # path, a NUL or a file that is not TZif ("zone.tab").
        raise exception.Invalid(
            f"timezone: {name!r} is not a known time zone (an IANA name such as 'Europe/Berlin')."
        ) from err


def _hhmm(body: Mapping[str, Any], field: str) -> dt.time:
    value = body.get(field)
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise exception.Invalid(
            f"windows: {field!r} must be a time of day as 'HH:MM' (00:00 to 23:59), not {value!r}."
        )
    return dt.time.fromisoformat(value)


def _days(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise exception.Invalid(
            f"windows: 'days' must be a non-empty list of {', '.join(DAYS)}, not {value!r}."
        )
    out: set[int] = set()
    for day in value:
        if day not in DAYS:
            raise exception.Invalid(
                f"windows: 'days' has {day!r}, which is not one of {', '.join(DAYS)}."
            )
        if DAYS.index(day) in out:
            raise exception.Invalid(f"windows: 'days' lists {day!r} twice.")
        out.add(DAYS.index(day))
    return tuple(sorted(out))


def _instant(body: Mapping[str, Any], field: str) -> dt.datetime:
    value = body.get(field)
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise exception.Invalid(
            f"windows: {field!r} must be an ISO 8601 date and time with its UTC offset "
            f"(such as '2026-03-28T19:00:00+01:00'), not {value!r}."
        )
    if when.utcoffset() is None:
        raise exception.Invalid(
            f"windows: {field!r} {value!r} has no UTC offset; add one (such as '+01:00' or 'Z')."
        )
    return when.astimezone(_UTC)


def parse(body: Any) -> Window:
    """A window from a request body, weekly or one-off by its keys; ``Invalid`` naming the
    field for unknown or mixed keys, bad days or times, an end equal to the start (weekly),
    a missing offset or an end not after the start (one-off)."""
    if not isinstance(body, Mapping):
        raise exception.Invalid(f"windows: a window must be an object, not {body!r}.")
    keys = set(body)
    if keys & WEEKLY_FIELDS and keys & ONE_OFF_FIELDS:
        raise exception.Invalid(
            "windows: a window is weekly ('days', 'start', 'end') or one-off ('starts_at', "
            "'ends_at'), not both."
        )
    fields = ONE_OFF_FIELDS if keys & ONE_OFF_FIELDS else WEEKLY_FIELDS
    unknown, missing = sorted(map(str, keys - fields)), sorted(fields - keys)
    if unknown:
        raise exception.Invalid(f"windows: unknown field {unknown[0]!r}.")
    if missing:
        raise exception.Invalid(f"windows: {missing[0]!r} is required.")
    if fields is ONE_OFF_FIELDS:
        starts_at, ends_at = _instant(body, "starts_at"), _instant(body, "ends_at")
        if ends_at <= starts_at:
            raise exception.Invalid("windows: 'ends_at' must be after 'starts_at'.")
        return OneOff(starts_at, ends_at)
    days, start, end = _days(body["days"]), _hhmm(body, "start"), _hhmm(body, "end")
    if start == end:
        # Ambiguous: an empty window or one of 24 hours; the client says which with two
        # windows or other times.
        raise exception.Invalid("windows: 'end' must differ from 'start'.")
    return Weekly(days, start, end)


def parse_all(bodies: Iterable[Any]) -> tuple[Window, ...]:
    """Every window of a list (stored windows, read back)."""
    return tuple(parse(b) for b in bodies)


# -- arithmetic ----------------------------------------------------------------------------


def _as_utc(now: dt.datetime) -> dt.datetime:
    if now.utcoffset() is None:
        # A naive ``now`` would be read in the host's zone: a bug in the caller, not input.
        raise ValueError(f"{now!r} is naive; pass an aware datetime.")
    return now.astimezone(_UTC)


def _local(when: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return when.astimezone(tz).replace(tzinfo=None)


def to_utc(local: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The UTC instant of the naive wall-clock time ``local`` in ``tz``: an ambiguous time is
    its first occurrence (``fold=0``); a nonexistent one moves forward to the first instant
    that exists (the transition)."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(_UTC)
    if _local(first, tz) == local:
        return first
    # In a gap fold=1 reads the time with the offset after the change and lands before the
    # transition, fold=0 after it: the transition is the first second in between whose wall
    # time is at or past ``local``.
    lo = local.replace(tzinfo=tz, fold=1).astimezone(_UTC)
    hi = first
    while (hi - lo) > dt.timedelta(seconds=1):
        mid = lo + dt.timedelta(seconds=(hi - lo).total_seconds() // 2)
        if _local(mid, tz) >= local:
            hi = mid
        else:
            lo = mid
    return hi


def occurrence(window: Weekly, tz: dt.tzinfo, day: dt.date) -> Occurrence | None:
    """The occurrence of ``window`` that starts on local date ``day``; None when ``day`` is
    not one of its days or the occurrence is empty (both ends in one DST gap)."""
    if day.weekday() not in window.days:
        return None
    end_day = day + dt.timedelta(days=1) if window.end < window.start else day
    start = to_utc(dt.datetime.combine(day, window.start), tz)
    end = to_utc(dt.datetime.combine(end_day, window.end), tz)
    return Occurrence(start, end) if end > start else None


def occurrences(
    windows: Sequence[Window], tz: dt.tzinfo, since: dt.datetime, until: dt.datetime
) -> list[Occurrence]:
    """Every occurrence of ``windows`` that overlaps ``[since, until)``, unmerged, ordered by
    start then end."""
    since, until = _as_utc(since), _as_utc(until)
    out: list[Occurrence] = []
    for window in windows:
        if isinstance(window, OneOff):
            out.append(Occurrence(window.starts_at, window.ends_at))
            continue
        # An occurrence lasts at most a day and an hour or so, so one that overlaps ``since``
        # started on the local day before at the earliest (two, for zones far from UTC).
        day = _local(since, tz).date() - dt.timedelta(days=2)
        last = _local(until, tz).date() + dt.timedelta(days=1)
        while day <= last:
            found = occurrence(window, tz, day)
            if found is not None:
                out.append(found)
            day += dt.timedelta(days=1)
    return sorted(
        (o for o in out if o.end > since and o.start < until), key=lambda o: (o.start, o.end)
    )


def merge(spans: Iterable[Occurrence]) -> list[Occurrence]:
    """Overlapping or touching occurrences as one each (``spans`` ordered by start)."""
    merged: list[Occurrence] = []
    for span in spans:
        if merged and span.start <= merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Occurrence(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


def open_at(windows: Sequence[Window], tz: dt.tzinfo, now: dt.datetime) -> Occurrence | None:
    """The merged occurrence open at ``now`` (aware), or None when every window is closed."""
    now = _as_utc(now)
    for span in merge(occurrences(windows, tz, now - HORIZON, now + HORIZON)):
        if span.start <= now < span.end:
            return span
    return None


def is_open(windows: Sequence[Window], tz: dt.tzinfo, now: dt.datetime) -> bool:
    """True when a window is open at ``now``."""
    return open_at(windows, tz, now) is not None


def occurrence_end(
    windows: Sequence[Window], tz: dt.tzinfo, now: dt.datetime
) -> dt.datetime | None:
    """When the occurrence open at ``now`` closes: the end a loan opened at ``now`` may not
    outlive by more than its notice (and one engine pass); None when the pool is closed."""
    span = open_at(windows, tz, now)
    return span.end if span is not None else None


def next_change(windows: Sequence[Window], tz: dt.tzinfo, now: dt.datetime) -> dt.datetime | None:
    """When the pool next opens or closes after ``now``: the engine's next due time for it.
    Open: the merged occurrence's end. Closed: the next start, or None when no window will
    open again (none at all, or only past one-off windows)."""
    now = _as_utc(now)
    span = open_at(windows, tz, now)
    if span is not None:
        return span.end
    # Closed, so every occurrence overlapping [now, ...) starts after now.
    starts = [o.start for o in occurrences(windows, tz, now, now + _LOOK_AHEAD)]
    # One-off windows further ahead than the weekly look-ahead still open some day.
    starts += [w.starts_at for w in windows if isinstance(w, OneOff) and w.starts_at > now]
    return min(starts, default=None)
