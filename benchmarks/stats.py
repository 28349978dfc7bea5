"""Pure helpers of the benchmark suite: percentiles, medians with their spread, formatting."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``samples``, linearly interpolated between ranks.

    NaN for no samples: an empty run must show as missing, never as zero latency.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0-100")
    if not samples:
        return math.nan
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Figure:
    """The median of several runs' values, with the smallest and largest of them."""

    median: float
    low: float
    high: float
    runs: int

    @property
    def spread_pct(self) -> float:
        """Half the range as a percentage of the median (NaN when the median is 0 or NaN)."""
        if not self.median or math.isnan(self.median):
            return math.nan
        return 100.0 * (self.high - self.low) / 2.0 / abs(self.median)


def figure(values: Sequence[float]) -> Figure:
    """Summarize one figure's per-run values; NaN runs (nothing measured) are left out."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return Figure(math.nan, math.nan, math.nan, 0)
    return Figure(statistics.median(kept), min(kept), max(kept), len(kept))


def fmt_number(value: float, unit: str = "") -> str:
    """A value with about three significant digits, or an em dash for missing."""
    if value is None or math.isnan(value):
        return "—"
    magnitude = abs(value)
    if magnitude >= 100:
        text = f"{value:,.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text}{unit}"


def fmt_figure(fig: Figure, unit: str = "", scale: float = 1.0) -> str:
    """``median unit (±spread%)``, the spread being half the min-max range over the runs."""
    if fig.runs == 0:
        return "—"
    text = fmt_number(fig.median * scale, unit)
    if fig.runs > 1 and not math.isnan(fig.spread_pct):
        text += f" (±{fig.spread_pct:.0f}%)"
    return text


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when either is missing or the denominator is 0."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return math.nan
    return numerator / denominator


def verdict(met: bool | None) -> str:
    """How a target reads in the report: met, not met, or not measured."""
    if met is None:
        return "not measured"
    return "met" if met else "NOT met"
