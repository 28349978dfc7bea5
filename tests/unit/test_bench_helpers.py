"""The benchmark suite's pure helpers: percentiles, medians with spread, formatting, targets."""

from __future__ import annotations

import math

import pytest

from benchmarks import report, stats


def test_percentile_interpolates_between_ranks():
    samples = [4.0, 1.0, 3.0, 2.0]
    assert stats.percentile(samples, 0) == 1.0
    assert stats.percentile(samples, 100) == 4.0
    assert stats.percentile(samples, 50) == pytest.approx(2.5)
    assert stats.percentile(list(range(101)), 99) == pytest.approx(99.0)


def test_percentile_of_nothing_is_missing_not_zero():
    assert math.isnan(stats.percentile([], 50))
    with pytest.raises(ValueError, match="outside"):
        stats.percentile([1.0], 101)


def test_figure_is_the_median_with_its_range_and_skips_missing_runs():
    fig = stats.figure([10.0, 12.0, math.nan, 8.0])
    assert (fig.median, fig.low, fig.high, fig.runs) == (10.0, 8.0, 12.0, 3)
    assert fig.spread_pct == pytest.approx(20.0)
    assert stats.figure([]).runs == 0


def test_formatting():
    assert stats.fmt_figure(stats.figure([100.0, 110.0, 90.0]), " req/s") == "100 req/s (±10%)"
    assert stats.fmt_figure(stats.figure([0.0123]), " ms", 1000.0) == "12.3 ms"
    assert stats.fmt_figure(stats.figure([])) == "—"
    assert stats.fmt_number(1234.5) == "1,234"
    assert stats.fmt_number(math.nan) == "—"
    assert math.isnan(stats.ratio(1.0, 0.0))
    assert stats.verdict(None) == "not measured"
    assert stats.verdict(False) == "NOT met"


def run(rate, p99):
    return {"rate": rate, "p50": p99 / 2, "p99": p99, "samples": 100.0, "errors": 0.0}


def test_targets_compare_medians_and_say_when_unmeasured():
    results = {
        "w1": {
            "cyborg-lite|/v2/devices|8": [run(500.0, 0.01)] * 3,
            "Cyborg 17.0.0|/v2/devices|8": [run(50.0, 0.2)] * 3,
            "cyborg-lite|/v2/device_profiles|8": [run(100.0, 0.1)] * 3,
            "Cyborg 17.0.0|/v2/device_profiles|8": [run(50.0, 0.2)] * 3,
        },
        "w4_10k": [{"p50": 0.050, "pages": 10.0, "first": 0.05, "last": 0.05}],
        "w4_100k": [{"p50": 0.055, "pages": 10.0, "first": 0.05, "last": 0.05}],
    }
    found = {what: met for what, met, _ in report.targets(results)}
    assert found["workload 1 /v2/devices c=8: throughput ≥ 5x Cyborg's, p99 ≤ 1/5"] is True
    assert found["workload 1 /v2/device_profiles c=8: throughput ≥ 5x Cyborg's, p99 ≤ 1/5"] is False
    assert found["page time flat within 20% from 10k to 100k devices"] is True
    assert found["10,000-device rollout in under 60 s"] is None
    text = report.render(results, "make bench-quick")
    assert "| /v2/devices | 8 | cyborg-lite | 500 req/s (±0%) |" in text


def test_a_peer_that_completed_nothing_is_reported_as_such_not_as_unmeasured():
    failing = {**run(0.0, 1.0), "errors": 80.0}
    results = {
        "w2": {
            "cyborg-lite|cycle|8": [run(80.0, 0.3)] * 3,
            "Cyborg 17.0.0|cycle|8": [failing] * 3,
            "cyborg-lite|cycle|1": [run(90.0, 0.02)] * 3,
            "Cyborg 17.0.0|cycle|1": [failing, run(10.0, 0.1), run(10.0, 0.1)],
        }
    }
    found = {what: (met, fig) for what, met, fig in report.targets(results)}
    met, fig = found["workload 2 cycle c=8: throughput ≥ 5x Cyborg's, p99 ≤ 1/5"]
    assert met is True
    assert fig == "Cyborg completed none (240 errors); cyborg-lite 80.0/s (0 errors)"
    # Some of its runs completed cycles: an ordinary ratio of medians.
    met, fig = found["workload 2 cycle c=1: throughput ≥ 5x Cyborg's, p99 ≤ 1/5"]
    assert met is True
    assert fig.startswith("9.00x throughput")


def test_render_writes_results_again_from_a_runs_raw_figures(tmp_path, monkeypatch):
    import json
    import sys

    from benchmarks import run as bench_run

    work = tmp_path / "work"
    work.mkdir()
    results = {
        "quick": True,
        "w1": {
            "cyborg-lite|/v2/devices|8": [run(500.0, 0.01)] * 3,
            "Cyborg 17.0.0|/v2/devices|8": [run(50.0, 0.2)] * 3,
        },
    }
    (work / "results.json").write_text(json.dumps(results))
    out = tmp_path / "RESULTS.md"
    monkeypatch.setattr(sys, "argv", ["run", "--render", str(work), "--out", str(out)])
    runs_before = set((bench_run.HERE / ".work").glob("*"))
    bench_run.main()
    text = out.read_text()
    assert "Produced by `make bench-quick`" in text
    assert "| /v2/devices | 8 | cyborg-lite | 500 req/s (±0%) |" in text
    assert set((bench_run.HERE / ".work").glob("*")) == runs_before  # no run was started
