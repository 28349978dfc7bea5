"""A rollout's strategy: parsed from the API body into a checked, frozen value, and the pure
rules the engine applies with it (wave sizes, failure budget, maintenance window)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from cyborg_lite import exception

IN_USE_CHOICES = ("wait", "skip", "force")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_PERCENT = re.compile(r"^(\d{1,3}(?:\.\d+)?)%$")


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
# timedeltas, which a client-chosen 10**30 would overflow (a 500, or a stuck rollout).
INT_MAX = 2**31 - 1


def _int(body: Mapping[str, Any], name: str, default: int, minimum: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= INT_MAX:
        raise exception.Invalid(f"strategy.{name} must be an integer from {minimum} to {INT_MAX}.")
    return value


def _wave(value: Any) -> str | int:
    if isinstance(value, bool):
        raise exception.Invalid(f"strategy.waves: {value!r} is neither a count nor a percentage.")
    if isinstance(value, int):
        if not 1 <= value <= INT_MAX:
            raise exception.Invalid(f"strategy.waves: counts must be from 1 to {INT_MAX}.")
        return value
    if isinstance(value, str):
        match = _PERCENT.match(value.strip())
        if match and 0 < float(match.group(1)) <= 100:
            return value.strip()
    raise exception.Invalid(
        f"strategy.waves: {value!r} is neither a count (>= 1) nor a percentage like '25%'."
    )


def _window(body: Any) -> Window | None:
    if body is None:
        return None
    if not isinstance(body, Mapping) or not {"start", "end"} <= set(body):
        raise exception.Invalid('strategy.window needs "start" and "end" as "HH:MM".')
    times = []
    for name in ("start", "end"):
        match = _HHMM.match(str(body[name]))
        if not match:
            raise exception.Invalid(f"strategy.window.{name} must be HH:MM, not {body[name]!r}.")
        times.append(dt.time(int(match.group(1)), int(match.group(2))))
    tz = str(body.get("timezone") or "UTC")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise exception.Invalid(
            f"strategy.window.timezone {tz!r} is not a known time zone."
        ) from err
    if times[0] == times[1]:
        raise exception.Invalid("strategy.window: start and end must differ.")
    return Window(times[0], times[1], tz)


def parse(body: Mapping[str, Any] | None) -> Strategy:
    """A checked ``Strategy`` from the API body (every field optional)."""
    body = body or {}
    default = Strategy()
    known = {
        "canary",
        "waves",
        "max_in_flight",
        "max_in_flight_per_host",
        "failure_budget",
        "bake_seconds",
        "window",
        "in_use",
        "allow_reboot",
    }
    unknown = sorted(set(body) - known)
    if unknown:
        raise exception.Invalid(f"Unknown strategy field(s): {', '.join(unknown)}.")
    waves_in = body.get("waves", list(default.waves))
    if not isinstance(waves_in, Sequence) or isinstance(waves_in, str) or not waves_in:
        raise exception.Invalid("strategy.waves must be a non-empty list.")
    waves = tuple(_wave(w) for w in waves_in)
    budget = body.get("failure_budget") or {}
    if not isinstance(budget, Mapping) or set(budget) - {"count", "rate"}:
        raise exception.Invalid('strategy.failure_budget takes "count" and "rate".')
    count = _int(budget, "count", default.failure_count, 0)
    rate = budget.get("rate", default.failure_rate)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise exception.Invalid("strategy.failure_budget.rate must be a number from 0 to 1.")
    in_use = body.get("in_use", default.in_use)
    if in_use not in IN_USE_CHOICES:
        raise exception.Invalid(f"strategy.in_use must be one of {', '.join(IN_USE_CHOICES)}.")
    allow_reboot = body.get("allow_reboot", default.allow_reboot)
    if not isinstance(allow_reboot, bool):
        raise exception.Invalid("strategy.allow_reboot must be true or false.")
    return Strategy(
        canary=_int(body, "canary", default.canary, 0),
        waves=waves,
        max_in_flight=_int(body, "max_in_flight", default.max_in_flight, 1),
        max_in_flight_per_host=_int(
            body, "max_in_flight_per_host", default.max_in_flight_per_host, 1
        ),
        failure_count=count,
        failure_rate=float(rate),
        bake_seconds=_int(body, "bake_seconds", default.bake_seconds, 0),
        window=_window(body.get("window")),
        in_use=str(in_use),
        allow_reboot=allow_reboot,
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
