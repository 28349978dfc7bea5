"""benchmarks/usage.py's arithmetic: CPU per host report, less the usage-off window, and the
share of a core at the default intervals."""

from __future__ import annotations

import math

import pytest

from benchmarks import usage


def window(seconds: float, conductor: float, agents: float, reports: int) -> usage.Window:
    return usage.Window(seconds, conductor, agents, 1.0, reports, "0.1 0.1 0.1", "0.2 0.2 0.2")


def test_cost_subtracts_the_baseline_rate_over_the_same_length() -> None:
    on = window(100.0, conductor=12.0, agents=30.0, reports=5000)
    off = window(50.0, conductor=1.0, agents=5.0, reports=0)
    cost = usage.cost(on, off, hosts=500, interval=60.0)
    assert cost.reports_per_s == pytest.approx(50.0)
    assert cost.conductor_ms_per_report == pytest.approx(2.4)
    # The baseline ran half as long: 2 s of conductor CPU over 100 s is not usage's.
    assert cost.conductor_ms_per_report_net == pytest.approx(2.0)
    assert cost.agents_ms_per_report_net == pytest.approx(4.0)
    assert cost.broker_ms_per_report_net == pytest.approx((1.0 - 2.0) / 5000 * 1000)
    # 500 reports a minute at 2 ms each: 1/60 of a core.
    assert cost.core_share_pct == pytest.approx(100 * 0.002 * 500 / 60)
    assert cost.core_share_pct_gross == pytest.approx(100 * 0.0024 * 500 / 60)


def test_cost_without_baseline_is_the_gross_figure() -> None:
    on = window(60.0, conductor=6.0, agents=3.0, reports=3000)
    cost = usage.cost(on, None, hosts=500, interval=60.0)
    assert cost.conductor_ms_per_report_net == cost.conductor_ms_per_report == pytest.approx(2.0)
    assert cost.core_share_pct == cost.core_share_pct_gross


def test_cost_of_a_window_without_reports_is_missing_not_zero() -> None:
    cost = usage.cost(window(60.0, 1.0, 1.0, 0), None, hosts=500, interval=60.0)
    assert math.isnan(cost.conductor_ms_per_report)
    assert math.isnan(cost.core_share_pct)
