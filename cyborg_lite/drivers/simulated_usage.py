"""The simulated driver's usage: per-model load from ``[simulated] usage``, a weekly schedule,
a different load for devices bound to an ARQ, and a little jitter.

A device's load (percent) is its model's ``usage`` figure (0 when not listed), or
``bound_usage`` when it is bound and that is set; outside every ``usage_schedule`` window it is
0. Jitter of up to ``usage_jitter`` points is added to a load above 0, kept within 0-100. The
figures follow the load linearly between the model's idle and full-load ``Profile``: memory
used, power and temperature, and one compute process while above 0 %. FPGAs report power and
temperature always, and utilization and processes only while a bitstream is loaded (else
unknown, as the real FPGA drivers have no utilization at all); ``function_loaded`` says
whether one is, and ``in_use`` is whether it runs (load above 0).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
import zoneinfo

from oslo_config import cfg

from cyborg_lite.drivers import base
from cyborg_lite.drivers.simulated_models import CATALOG, NO_BITSTREAM, Model

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_RE = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}):(?P<sm>\d{2})-(?P<end>\d{1,2}):(?P<em>\d{2})$"
)


def parse_usage(items: list[str]) -> dict[str, float]:
    """``["nvidia-h100:85", ...]`` as ``{model: percent}``; ValueError names a bad item."""
    found = {}
    for item in items:
        key, sep, value = item.strip().partition(":")
        where = f"[simulated] usage: {item!r}"
        if key not in CATALOG:
            raise ValueError(f"{where}: unknown simulated model {key!r}; known: {sorted(CATALOG)}")
        try:
            percent = float(value) if sep else float("nan")
        except ValueError:
            percent = float("nan")
        if not 0.0 <= percent <= 100.0:  # NaN fails too
            raise ValueError(f"{where}: expected MODEL:PERCENT with a percent from 0 to 100")
        found[key] = percent
    return found


@dataclasses.dataclass(frozen=True)
class Window:
    """A weekly window: on ``days`` (0 = Monday), from ``start`` to ``end`` minutes after
    midnight; an ``end`` not after ``start`` runs into the next day."""

    days: frozenset[int]
    start: int
    end: int

    def covers(self, weekday: int, minute: int) -> bool:
        """Whether the minute ``minute`` of day ``weekday`` (0 = Monday) is inside."""
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )


def parse_schedule(items: list[str]) -> list[Window]:
    """``["mon-fri 09:00-18:00", ...]`` as windows; ValueError names a bad item."""
    windows = []
    for item in items:
        where = f"[simulated] usage_schedule: {item!r}"
        m = _WINDOW_RE.match(" ".join(item.lower().split()))
        if m is None:
            raise ValueError(f"{where}: expected DAYS HH:MM-HH:MM, e.g. mon-fri 09:00-18:00")
        first, last = m["first"], m["last"] or m["first"]
        if first not in DAYS or last not in DAYS:
            raise ValueError(f"{where}: days are {', '.join(DAYS)}")
        a, b = DAYS.index(first), DAYS.index(last)
        days = frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))
        start, end = int(m["start"]) * 60 + int(m["sm"]), int(m["end"]) * 60 + int(m["em"])
        if int(m["sm"]) > 59 or int(m["em"]) > 59 or start >= 24 * 60 or end > 24 * 60:
            raise ValueError(f"{where}: times are 00:00 to 24:00")
        if start == end:
            raise ValueError(f"{where}: the window is empty")
        windows.append(Window(days, start, end))
    return windows


def timezone(name: str) -> dt.tzinfo:
    """The ``[simulated] usage_timezone`` zone; ValueError naming it when it is unknown."""
    if name.upper() == "UTC":
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"[simulated] usage_timezone: unknown time zone {name!r}") from err


class UsageModel:
    """The configured load, read once per sampling pass (so a bad option raises there)."""

    def __init__(self, conf: cfg.ConfigOpts, rng: random.Random) -> None:
        opts = conf.simulated
        self.usage = parse_usage(list(opts.usage))
        self.schedule = parse_schedule(list(opts.usage_schedule))
        self.zone = timezone(opts.usage_timezone)
        self.bound = opts.bound_usage
        self.jitter = float(opts.usage_jitter)
        self.rng = rng

    def scheduled(self, now: dt.datetime) -> bool:
        """Whether ``now`` is inside a window (always, with no schedule)."""
        if not self.schedule:
            return True
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(w.covers(local.weekday(), minute) for w in self.schedule)

    def load(self, key: str, bound: bool, active: bool) -> float:
        """The percent a ``key`` device runs at now (``active``: inside the schedule)."""
        base_load = self.bound if bound and self.bound is not None else self.usage.get(key, 0.0)
        if not active or base_load <= 0.0:
            return 0.0
        jittered = base_load + self.rng.uniform(-self.jitter, self.jitter)
        # Jitter never makes a loaded device read idle, nor pushes past full load.
        return round(min(100.0, max(jittered, 0.1)), 1)


def _between(low: float, high: float, load: float) -> float:
    return round(low + (high - low) * load / 100.0, 1)


def sample(device: base.Device, key: str, load: float) -> base.Sample:
    """The figures a ``key`` device shows at ``load`` percent."""
    model: Model = CATALOG[key]
    p = model.profile
    if model.type == "FPGA":
        bitstream = next((f for f in device.firmware if f.component == "bitstream"), None)
        loaded = bitstream is not None and bitstream.version != NO_BITSTREAM
        # Nothing loaded, nothing runs: the card idles, and has no utilization to speak of.
        load = load if loaded else 0.0
        return base.Sample(
            stable_id=device.stable_id,
            utilization_percent=load if loaded else None,
            power_watts=_between(p.idle_watts, p.max_watts, load),
            temperature_celsius=_between(p.idle_celsius, p.max_celsius, load),
            processes=(1 if load > 0 else 0) if loaded else None,
            function_loaded=loaded,
            in_use=loaded and load > 0,
        )
    total = p.memory_total_bytes
    return base.Sample(
        stable_id=device.stable_id,
        utilization_percent=load,
        memory_used_bytes=int(total * load / 100.0) if total is not None else None,
        memory_total_bytes=total,
        power_watts=_between(p.idle_watts, p.max_watts, load),
        temperature_celsius=_between(p.idle_celsius, p.max_celsius, load),
        processes=1 if load > 0 else 0,
    )
