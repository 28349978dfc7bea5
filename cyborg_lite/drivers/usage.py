"""What the drivers' usage sources share: a device's figures, their merge, and number parsing.

A source yields ``Figures`` per device (or per MIG instance); the driver turns them into
``base.Sample`` records. Every figure stays None where the source does not say, never 0: a
tool's sentinel (``[N/A]``, ``[Not Supported]``, ``N/A``) and an unparseable value are unknown.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cyborg_lite.drivers import base
from cyborg_lite.drivers.common import clean


@dataclasses.dataclass(frozen=True)
class Figures:
    """One reading of a device or slice; None where the source does not say."""

    utilization_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    power_watts: float | None = None
    temperature_celsius: float | None = None
    processes: int | None = None

    def missing(self, *names: str) -> bool:
        """Whether any of the named figures is unknown (a cheaper source left a gap)."""
        return any(getattr(self, n) is None for n in names)


UNKNOWN = Figures()


def fill(primary: Figures | None, fallback: Figures | None) -> Figures:
    """``primary`` with its unknown figures taken from ``fallback``."""
    if primary is None:
        return fallback or UNKNOWN
    if fallback is None:
        return primary
    fills = {
        f.name: getattr(fallback, f.name)
        for f in dataclasses.fields(Figures)
        if getattr(primary, f.name) is None
    }
    return dataclasses.replace(primary, **fills)


def sample(
    stable_id: str,
    figures: Figures | None,
    deployable: str | None = None,
    *,
    function_loaded: bool | None = None,
    in_use: bool | None = None,
) -> base.Sample:
    """A ``base.Sample`` of ``figures`` (all unknown when None)."""
    return base.Sample(
        stable_id=stable_id,
        deployable=deployable,
        function_loaded=function_loaded,
        in_use=in_use,
        **dataclasses.asdict(figures or UNKNOWN),
    )


def number(value: Any) -> float | None:
    """A float from a tool's value (``"85"``, ``85``, ``"71.25 W"``); None for sentinels.

    A ``{"value": N, "unit": U}`` leaf (amd-smi) gives its value. Booleans are no numbers.
    """
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = clean(value)
    if text is None:
        return None
    try:
        return float(text.split()[0].rstrip("%"))
    except ValueError:
        return None


def scaled(value: Any, factor: float) -> float | None:
    """``number(value) * factor``, e.g. MiB to bytes; None stays None."""
    n = number(value)
    return None if n is None else n * factor


def divided(value: Any, divisor: float) -> float | None:
    """``number(value) / divisor``, e.g. milliwatts to watts; None stays None.

    Dividing (rather than multiplying by 1e-3) keeps 95100 mW at exactly 95.1 W.
    """
    n = number(value)
    return None if n is None else n / divisor


def whole(value: float | None) -> int | None:
    """A byte count as an int; None stays None."""
    return None if value is None else int(value)


def percent(value: Any) -> float | None:
    """A utilization figure, only when it is a percent (0 to 100); else unknown.

    amd-smi and the libraries print 65535 (0xFFFF) for "no reading" on some parts.
    """
    n = number(value)
    return n if n is not None and 0.0 <= n <= 100.0 else None
