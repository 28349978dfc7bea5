"""From an agent's samples to the one summary per device per interval it sends the conductor.

An agent samples every ``[agent] usage_interval`` seconds and sends, every
``[agent] usage_report_interval``, one message per host holding a ``DeviceSummary`` per device:
mean and max utilization, the largest memory use, mean power, the highest temperature, the
most compute processes, and the last time the device was busy. A figure no sample gave stays
None (unknown), never 0. MIG slices' samples count towards their GPU: their processes and
memory add up, and their activity, where a source gives one, is the GPU's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Below this utilization, with no compute process, a sample is idle ([usage] idle_percent).
DEFAULT_IDLE_PERCENT = 5.0


@dataclasses.dataclass(frozen=True)
class Reading:
    """One device's figures at one instant: its own sample merged with its slices'."""

    utilization_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    power_watts: float | None = None
    temperature_celsius: float | None = None
    processes: int | None = None
    in_use: bool | None = None


def busy(reading: Reading, idle_percent: float = DEFAULT_IDLE_PERCENT) -> bool | None:
    """Whether the reading is busy: utilization at or above ``idle_percent``, a compute
    process, or a function the tools say is in use. None when nothing tells (no utilization,
    no process count, no in-use flag)."""
    if reading.processes:
        return True
    if reading.in_use:
        return True
    if reading.utilization_percent is not None:
        return reading.utilization_percent >= idle_percent
    if reading.processes is not None or reading.in_use is not None:
        return False  # a MIG slice: no utilization, but nothing runs on it
    return None


def _add(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else a + b


def _known(samples: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    return [s[key] for s in samples if s.get(key) is not None]


def merge(samples: Sequence[Mapping[str, Any]]) -> Reading:
    """A device's samples of one instant (``drivers.base.Sample`` as dicts: the whole device
    and each of its slices) as one reading. The device's own figures win; slices add their
    memory and processes where the device gave none."""
    whole = next((s for s in samples if not s.get("deployable")), {})
    slices = [s for s in samples if s.get("deployable")]
    memory, processes = whole.get("memory_used_bytes"), whole.get("processes")
    for s in slices:
        if whole.get("memory_used_bytes") is None:
            memory = _add(memory, s.get("memory_used_bytes"))
        if whole.get("processes") is None:
            processes = _add(processes, s.get("processes"))
    activity = whole.get("utilization_percent")
    if activity is None:
        known = _known(slices, "utilization_percent")
        activity = max(known) if known else None
    total = whole.get("memory_total_bytes")
    if total is None:
        totals = _known(slices, "memory_total_bytes")
        total = sum(totals) if totals else None
    return Reading(
        utilization_percent=activity,
        memory_used_bytes=memory,
        memory_total_bytes=total,
        power_watts=whole.get("power_watts"),
        temperature_celsius=whole.get("temperature_celsius"),
        processes=processes,
        in_use=whole.get("in_use"),
    )


@dataclasses.dataclass(frozen=True)
class DeviceSummary:
    """One device over one interval, as an agent sends it (``to_dict`` is the wire form)."""

    stable_id: str
    samples: int
    utilization_percent_mean: float | None
    utilization_percent_max: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    power_watts: float | None
    temperature_celsius: float | None
    processes: int | None
    # Busy in any sample of the interval; None when no sample could tell.
    busy: bool | None
    # The time of the interval's last busy sample, if any.
    last_busy: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        """The wire form: JSON types, times as ISO 8601 with offset."""
        out = dataclasses.asdict(self)
        out["last_busy"] = self.last_busy.isoformat() if self.last_busy else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceSummary:
        """The inverse of ``to_dict``; ValueError or KeyError on a malformed entry."""
        last_busy = data.get("last_busy")
        return cls(
            stable_id=str(data["stable_id"]),
            samples=int(data["samples"]),
            utilization_percent_mean=_float(data.get("utilization_percent_mean")),
            utilization_percent_max=_float(data.get("utilization_percent_max")),
            memory_used_bytes=_int(data.get("memory_used_bytes")),
            memory_total_bytes=_int(data.get("memory_total_bytes")),
            power_watts=_float(data.get("power_watts")),
            temperature_celsius=_float(data.get("temperature_celsius")),
            processes=_int(data.get("processes")),
            busy=None if data.get("busy") is None else bool(data["busy"]),
            last_busy=dt.datetime.fromisoformat(last_busy) if last_busy else None,
        )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(
    stable_id: str,
    readings: Iterable[tuple[dt.datetime, Reading]],
    idle_percent: float = DEFAULT_IDLE_PERCENT,
) -> DeviceSummary:
    """The summary of one device's timed readings over an interval."""
    timed = list(readings)
    utils = [r.utilization_percent for _, r in timed if r.utilization_percent is not None]
    memory = [r.memory_used_bytes for _, r in timed if r.memory_used_bytes is not None]
    totals = [r.memory_total_bytes for _, r in timed if r.memory_total_bytes is not None]
    power = [r.power_watts for _, r in timed if r.power_watts is not None]
    temps = [r.temperature_celsius for _, r in timed if r.temperature_celsius is not None]
    procs = [r.processes for _, r in timed if r.processes is not None]
    verdicts = [(at, busy(r, idle_percent)) for at, r in timed]
    busy_at = [at for at, b in verdicts if b]
    known = [b for _, b in verdicts if b is not None]
    return DeviceSummary(
        stable_id=stable_id,
        samples=len(timed),
        utilization_percent_mean=_mean(utils),
        utilization_percent_max=max(utils) if utils else None,
        memory_used_bytes=max(memory) if memory else None,
        memory_total_bytes=max(totals) if totals else None,
        power_watts=_mean(power),
        temperature_celsius=max(temps) if temps else None,
        processes=max(procs) if procs else None,
        busy=any(known) if known else None,
        last_busy=max(busy_at) if busy_at else None,
    )
