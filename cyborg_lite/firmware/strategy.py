"""A rollout's strategy: built from the API body (checked field by field by the request schema,
``api/schemas/rollouts.py``) into a frozen value, and the pure rules the engine applies with it
(wave sizes, failure budget, maintenance window)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from cyborg_lite import exception

IN_USE_CHOICES = ("wait", "skip", "force")


@dataclasses.dataclass(frozen=True)
class Window:
    """A daily maintenance window in a time zone; ``end`` before ``start`` spans midnight."""

    start: dt.time
    end: dt.time
    timezone: str = "UTC"

    def is_open(self, now: dt.datetime) -> bool:
        """True when ``now`` (aware) falls inside the window."""
        local = now.astimezone(zoneinfo.ZoneInfo(self.timezone)).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def to_dict(self) -> dict[str, str]:
        """The wire form."""
        return {
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "timezone": self.timezone,
        }


@dataclasses.dataclass(frozen=True)
class Strategy:
    """How a rollout proceeds. Wave targets are cumulative: ``["10%", "50%", "100%"]`` means
    10 % of the devices done after the first wave, half after the second, all after the last;
    counts (``[5, 50]``) work the same way, and devices beyond the last target form a final
    wave, so no selected device is silently left out."""

    canary: int = 1
    waves: tuple[str | int, ...] = ("10%", "50%", "100%")
    max_in_flight: int = 10
    max_in_flight_per_host: int = 1
    failure_count: int = 1
    failure_rate: float = 0.1
    bake_seconds: int = 0
    window: Window | None = None
    in_use: str = "wait"
    allow_reboot: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The wire form, with every default made explicit."""
        return {
            "canary": self.canary,
            "waves": list(self.waves),
            "max_in_flight": self.max_in_flight,
            "max_in_flight_per_host": self.max_in_flight_per_host,
            "failure_budget": {"count": self.failure_count, "rate": self.failure_rate},
            "bake_seconds": self.bake_seconds,
            "window": self.window.to_dict() if self.window else None,
            "in_use": self.in_use,
            "allow_reboot": self.allow_reboot,
        }


# Upper bound of every count and duration: they end up in SQL integer columns and in
# timedeltas, which a client-chosen 10**30 would overflow (a 500, or a stuck rollout). The
# request schema (api/schemas/rollouts.py) applies it.
INT_MAX = 2**31 - 1


# The per-field rules (types, bounds, the in_use choices, the HH:MM and percentage forms,
# unknown keys) are the request schema's, api/schemas/rollouts.py STRATEGY, which every
# strategy from a client passes first; the others are the engine's own (program rollouts'
# constants) or were checked when created (from_dict). What stays here is what a JSON Schema
# cannot say or what spans fields.


def _int(body: Mapping[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    # JSON has one number type and the schema's "integer" takes 1.0; the engine's counts and
    # timedeltas need an int, and 1.0 has always been refused rather than rounded.
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.Invalid(f"strategy.{name} must be an integer, not {value!r}.")
    return value


def _wave(value: Any) -> str | int:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.Invalid(
            f"strategy.waves: {value!r} is neither a count (an integer) nor a percentage."
        )
    return value


def _window(body: Mapping[str, Any] | None) -> Window | None:
    if body is None:
        return None
    start, end = (dt.time.fromisoformat(str(body[name])) for name in ("start", "end"))
    tz = str(body.get("timezone") or "UTC")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as err:
        # OSError: a key naming a directory of the zone database ("Europe") or too long a name.
        raise exception.Invalid(
            f"strategy.window.timezone {tz!r} is not a known time zone."
        ) from err
    if start == end:
        raise exception.Invalid("strategy.window: start and end must differ.")
    return Window(start, end, tz)


def parse(body: Mapping[str, Any] | None) -> Strategy:
    """A ``Strategy`` from a body that passed the request schema (every field optional): the
    defaults filled in, percentages stripped, and the rules no schema states checked (counts
    are integers, a window's start and end differ and its time zone exists)."""
    body = body or {}
    default = Strategy()
    budget = body.get("failure_budget") or {}
    return Strategy(
        canary=_int(body, "canary", default.canary),
        waves=tuple(_wave(w) for w in body.get("waves", default.waves)),
        max_in_flight=_int(body, "max_in_flight", default.max_in_flight),
        max_in_flight_per_host=_int(body, "max_in_flight_per_host", default.max_in_flight_per_host),
        failure_count=_int(budget, "count", default.failure_count),
        failure_rate=float(budget.get("rate", default.failure_rate)),
        bake_seconds=_int(body, "bake_seconds", default.bake_seconds),
        window=_window(body.get("window")),
        in_use=str(body.get("in_use", default.in_use)),
        allow_reboot=bool(body.get("allow_reboot", default.allow_reboot)),
    )


def from_dict(data: Mapping[str, Any]) -> Strategy:
    """The inverse of ``Strategy.to_dict`` (stored strategies were checked when created)."""
    return parse(data)


def wave_sizes(total: int, canary: int, waves: Sequence[str | int]) -> list[int]:
    """The size of each wave for ``total`` devices: the canary first (when > 0), then each
    cumulative target, then whatever remains. Empty waves are dropped."""
    sizes: list[int] = []
    done = 0
    if canary > 0 and total > 0:
        done = min(canary, total)
        sizes.append(done)
    for target in waves:
        if isinstance(target, int):
            goal = min(target, total)
        else:
            goal = min(total, math.ceil(total * float(target.rstrip("%")) / 100))
        if goal > done:
            sizes.append(goal - done)
            done = goal
    if done < total:
        sizes.append(total - done)
    return sizes


def budget_exceeded(failed: int, wave_size: int, strategy: Strategy) -> bool:
    """True when a wave's failures reach its budget: ``failure_budget.count`` failures (0
    disables the count), or ``ceil(rate x wave size)`` failures (a rate of 0 halts on the first
    failure, a rate of 1 only when the whole wave failed). Measuring the rate against the
    wave's size, not the jobs finished so far, keeps one early failure from halting a big wave.
    """
    if failed <= 0:
        return False
    if strategy.failure_count and failed >= strategy.failure_count:
        return True
    return failed >= max(1, math.ceil(strategy.failure_rate * wave_size))
