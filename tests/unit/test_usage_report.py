"""An interval's wire form and its alignment on the clock (``usage.report``)."""

from __future__ import annotations

import datetime as dt

import pytest

from cyborg_lite.usage.report import IntervalReport, interval_of
from cyborg_lite.usage.summary import DeviceSummary

UTC = dt.UTC


def test_intervals_are_aligned_on_the_clock():
    at = dt.datetime(2026, 3, 1, 10, 7, 42, 500000, tzinfo=UTC)
    assert interval_of(at, 60) == (
        dt.datetime(2026, 3, 1, 10, 7, tzinfo=UTC),
        dt.datetime(2026, 3, 1, 10, 8, tzinfo=UTC),
    )
    assert interval_of(at, 300)[0] == dt.datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    # Another offset, the same instant, the same interval.
    paris = at.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert interval_of(paris, 60) == interval_of(at, 60)
    with pytest.raises(ValueError, match="at least a second"):
        interval_of(at, 0)


def summary(stable_id="g1"):
    return DeviceSummary(
        stable_id,
        6,
        12.5,
        40.0,
        1024,
        4096,
        250.0,
        61.0,
        2,
        True,
        dt.datetime(2026, 3, 1, 10, 0, 50, tzinfo=UTC),
    )


def test_the_wire_form_round_trips():
    start = dt.datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    report = IntervalReport(start, start + dt.timedelta(minutes=1), (summary(),))
    wire = report.to_dict()
    assert wire["interval_start"] == "2026-03-01T10:00:00+00:00"
    assert wire["devices"][0]["last_busy"] == "2026-03-01T10:00:50+00:00"
    assert IntervalReport.from_dict(wire) == report
    assert report.resolution_seconds == 60


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"interval_start": "2026-03-01T10:00:00"}, "no UTC offset"),
        ({"interval_end": "2026-03-01T10:00:00+00:00"}, "is empty"),
        ({"devices": [summary().to_dict(), summary().to_dict()]}, "names a device twice"),
    ],
)
def test_malformed_intervals_are_refused(change, message):
    start = dt.datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    wire = IntervalReport(start, start + dt.timedelta(minutes=1), (summary(),)).to_dict()
    with pytest.raises(ValueError, match=message):
        IntervalReport.from_dict({**wire, **change})
