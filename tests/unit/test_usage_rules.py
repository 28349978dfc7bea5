"""The usage rules: busy or idle, an interval's summary, and idleness across intervals."""

from __future__ import annotations

import datetime as dt

import pytest

from cyborg_lite.usage import idle, summary
from cyborg_lite.usage.summary import Reading

T0 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        (Reading(utilization_percent=4.9), False),
        (Reading(utilization_percent=5.0), True),
        (Reading(utilization_percent=0.0, processes=1), True),
        (Reading(processes=0), False),  # a MIG slice: no utilization, nothing running
        (Reading(in_use=True), True),
        (Reading(in_use=False), False),
        (Reading(power_watts=80.0, temperature_celsius=40.0), None),
        (Reading(), None),
    ],
)
def test_busy_rests_on_utilization_processes_and_in_use(reading, expected):
    assert summary.busy(reading, idle_percent=5.0) is expected


def test_a_device_sample_merges_with_its_mig_slices():
    merged = summary.merge(
        [
            {"stable_id": "g", "power_watts": 120.0, "memory_total_bytes": 80},
            {"stable_id": "g", "deployable": "mig-1", "memory_used_bytes": 10, "processes": 1},
            {"stable_id": "g", "deployable": "mig-2", "memory_used_bytes": 5, "processes": 0},
        ]
    )
    assert merged == Reading(
        utilization_percent=None,  # unknown on MIG, not 0
        memory_used_bytes=15,
        memory_total_bytes=80,
        power_watts=120.0,
        processes=1,
    )


def test_the_devices_own_figures_win_over_its_slices():
    merged = summary.merge(
        [
            {"stable_id": "g", "memory_used_bytes": 40, "processes": 3},
            {"stable_id": "g", "deployable": "mig-1", "memory_used_bytes": 10, "processes": 1},
        ]
    )
    assert (merged.memory_used_bytes, merged.processes) == (40, 3)


def test_a_summary_gives_mean_max_and_the_last_busy_sample():
    readings = [
        (at(0), Reading(utilization_percent=90.0, memory_used_bytes=7, power_watts=300.0)),
        (at(10), Reading(utilization_percent=30.0, memory_used_bytes=9, power_watts=200.0)),
        (at(20), Reading(utilization_percent=0.0, memory_used_bytes=1, power_watts=100.0)),
    ]
    out = summary.summarise("g", readings)
    assert out.samples == 3
    assert out.utilization_percent_mean == pytest.approx(40.0)
    assert out.utilization_percent_max == 90.0
    assert out.memory_used_bytes == 9
    assert out.power_watts == pytest.approx(200.0)
    assert out.busy is True
    assert out.last_busy == at(10)


def test_a_summary_of_unknowns_stays_unknown():
    out = summary.summarise("fpga", [(at(0), Reading(power_watts=30.0))])
    assert out.utilization_percent_mean is None
    assert out.processes is None
    assert out.busy is None
    assert out.last_busy is None


def test_the_wire_form_round_trips():
    out = summary.summarise("g", [(at(5), Reading(utilization_percent=50.0, processes=2))])
    assert summary.DeviceSummary.from_dict(out.to_dict()) == out
    assert out.to_dict()["last_busy"] == "2026-12-04T10:00:05+00:00"


def test_idleness_starts_at_the_last_busy_time_and_holds():
    state = idle.Idleness(last_busy=None, idle_since=None)
    state = idle.advance(
        state, busy=True, interval_start=at(0), interval_end=at(60), last_busy_in_interval=at(50)
    )
    assert state == idle.Idleness(last_busy=at(50), idle_since=None)
    state = idle.advance(
        state, busy=False, interval_start=at(60), interval_end=at(120), last_busy_in_interval=None
    )
    assert state.idle_since == at(50)
    later = idle.advance(
        state, busy=False, interval_start=at(120), interval_end=at(180), last_busy_in_interval=None
    )
    assert later == state
    assert idle.idle_seconds(later, at(180)) == 130.0


def test_a_device_never_busy_is_idle_from_its_first_idle_interval():
    state = idle.advance(
        idle.Idleness(None, None),
        busy=False,
        interval_start=at(0),
        interval_end=at(60),
        last_busy_in_interval=None,
    )
    assert state == idle.Idleness(last_busy=None, idle_since=at(0))


def test_unknown_is_not_idle():
    state = idle.Idleness(last_busy=at(0), idle_since=at(0))
    state = idle.advance(
        state, busy=None, interval_start=at(60), interval_end=at(120), last_busy_in_interval=None
    )
    assert state == idle.Idleness(last_busy=at(0), idle_since=None)
    assert idle.idle_seconds(state, at(200)) is None
