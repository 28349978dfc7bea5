"""One host's usage over one interval, as the agent sends it and the conductor stores it.

Intervals are aligned on the clock: an interval of ``length`` seconds starts at a multiple of
``length`` since the epoch (UTC), so every host's minute is the same minute, an interval sent
twice keeps its key, and intervals that divide an hour never straddle one. The wire form
(``to_dict``) is ``{"interval_start", "interval_end", "devices": [DeviceSummary.to_dict()]}``
with times in ISO 8601 with an offset.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from cyborg_lite.usage.summary import DeviceSummary

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def interval_of(at: dt.datetime, length: int) -> tuple[dt.datetime, dt.datetime]:
    """The aligned interval of ``length`` seconds holding ``at`` (an aware time): its start
    and end, in UTC."""
    if length < 1:
        raise ValueError(f"an interval lasts at least a second, not {length}")
    seconds = (at - EPOCH).total_seconds()
    start = EPOCH + dt.timedelta(seconds=math.floor(seconds / length) * length)
    return start, start + dt.timedelta(seconds=length)


@dataclasses.dataclass(frozen=True)
class IntervalReport:
    """Every device's summary of one interval of one host."""

    start: dt.datetime
    end: dt.datetime
    devices: tuple[DeviceSummary, ...]

    @property
    def resolution_seconds(self) -> int:
        """The interval's length in whole seconds (the rollups' resolution)."""
        return round((self.end - self.start).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "interval_start": self.start.isoformat(),
            "interval_end": self.end.isoformat(),
            "devices": [d.to_dict() for d in self.devices],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntervalReport:
        """The inverse of ``to_dict``; ValueError, KeyError or TypeError when malformed: a
        time without an offset, an end not after its start, a device named twice."""
        start = _aware(data["interval_start"])
        end = _aware(data["interval_end"])
        devices = tuple(DeviceSummary.from_dict(d) for d in data.get("devices") or ())
        report = cls(start=start, end=end, devices=devices)
        if report.resolution_seconds < 1:
            raise ValueError(f"interval {data['interval_start']} - {data['interval_end']} is empty")
        names = [d.stable_id for d in devices]
        if len(set(names)) != len(names):
            raise ValueError(f"interval {data['interval_start']} names a device twice")
        return report


def _aware(text: Any) -> dt.datetime:
    found = dt.datetime.fromisoformat(str(text))
    if found.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return found.astimezone(dt.UTC)
