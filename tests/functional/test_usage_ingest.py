"""Usage into SQL on every backend: a host's report (``conductor.usage.receive`` over
``db.usage``), resent intervals, idleness across intervals, unknown devices, the ARQ-bound
devices in the answer, hourly rollups and pruning."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from cyborg_lite import exception
from cyborg_lite.conductor import usage
from cyborg_lite.db import models
from cyborg_lite.db import usage as db_usage
from tests import seed

T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def naive(at):
    return at.replace(tzinfo=None)


def summary(stable_id, *, util=50.0, busy=True, last_busy=None, samples=6, power=100.0):
    return {
        "stable_id": stable_id,
        "samples": samples,
        "utilization_percent_mean": util,
        "utilization_percent_max": None if util is None else util + 10,
        "memory_used_bytes": 1024,
        "memory_total_bytes": 4096,
        "power_watts": power,
        "temperature_celsius": 50.0,
        "processes": 1 if busy else 0,
        "busy": busy,
        "last_busy": last_busy.isoformat() if last_busy else None,
    }


def interval(start, *devices, length=MINUTE):
    return {
        "interval_start": start.isoformat(),
        "interval_end": (start + length).isoformat(),
        "devices": list(devices),
    }


def rollups(db, resolution=60):
    with db.transaction() as s:
        return (
            s.execute(
                sa.select(models.UsageRollup)
                .where(models.UsageRollup.resolution_seconds == resolution)
                .order_by(models.UsageRollup.device_id, models.UsageRollup.start)
            )
            .scalars()
            .all()
        )


def latest(db, device_id):
    with db.transaction() as s:
        return s.get(models.DeviceUsage, device_id)


@pytest.fixture
def two(db):
    a = seed.device(db, hostname="node1", pci="0000:3b:00.0")
    b = seed.device(db, hostname="node1", pci="0000:3c:00.0")
    return db, a["device_id"], b["device_id"]


def test_a_report_lands_one_row_per_device_per_interval_and_the_latest_figures(two):
    db, a, b = two
    got = usage.receive(
        db,
        "node1",
        [
            interval(T0, summary("0000:3b:00.0", last_busy=T0 + 50 * dt.timedelta(seconds=1))),
            interval(
                T0 + MINUTE,
                summary("0000:3b:00.0", util=1.0, busy=False),
                summary("0000:3c:00.0", util=None, busy=None, power=None),
            ),
        ],
    )
    assert got.answer() == {"accepted": 3, "unknown": 0, "allocated": []}
    rows = rollups(db)
    assert [(r.device_id, naive(T0) if r.start == naive(T0) else r.start) for r in rows] == [
        (a, naive(T0)),
        (a, naive(T0 + MINUTE)),
        (b, naive(T0 + MINUTE)),
    ]
    assert rows[0].samples == 6
    assert rows[0].utilization_percent_max == 60.0
    assert rows[0].busy is True
    assert rows[1].busy is False
    assert rows[2].busy is None
    assert rows[2].utilization_percent_mean is None
    assert rows[2].power_watts is None
    row_a = latest(db, a)
    assert row_a.sampled_at == naive(T0 + 2 * MINUTE)
    assert row_a.utilization_percent == 1.0
    assert row_a.memory_total_bytes == 4096
    # Busy until 10:00:50, idle over the next minute: idle since the last busy sample.
    assert row_a.last_busy == naive(T0 + 50 * dt.timedelta(seconds=1))
    assert row_a.idle_since == naive(T0 + 50 * dt.timedelta(seconds=1))
    row_b = latest(db, b)
    assert row_b.last_busy is None
    assert row_b.idle_since is None


def test_a_resent_interval_lands_once_and_changes_no_figure(two):
    db, a, _b = two
    first = [interval(T0, summary("0000:3b:00.0", util=80.0))]
    usage.receive(db, "node1", first)
    later = [interval(T0 + MINUTE, summary("0000:3b:00.0", util=2.0, busy=False))]
    usage.receive(db, "node1", later)
    # The backlog of an agent whose answer was lost: both again, then one more.
    again = usage.receive(
        db,
        "node1",
        [*first, *later, interval(T0 + 2 * MINUTE, summary("0000:3b:00.0", util=3.0, busy=False))],
    )
    assert again.accepted == 3
    assert [naive(T0) + n * MINUTE for n in range(3)] == [r.start for r in rollups(db)]
    assert [r.utilization_percent_mean for r in rollups(db)] == [80.0, 2.0, 3.0]
    row = latest(db, a)
    assert row.utilization_percent == 3.0
    # Idle since the first idle interval began; the resend did not restart it.
    assert row.idle_since == naive(T0 + MINUTE)
    assert row.last_busy == naive(T0 + MINUTE)

    # An old interval arriving after newer ones adds its row and leaves the figures alone.
    usage.receive(db, "node1", [interval(T0 - MINUTE, summary("0000:3b:00.0", util=99.0))])
    assert len(rollups(db)) == 4
    assert latest(db, a).utilization_percent == 3.0
    assert latest(db, a).idle_since == naive(T0 + MINUTE)


def test_idleness_across_intervals(two):
    db, a, _b = two
    sid = "0000:3b:00.0"

    def send(n, **kw):
        usage.receive(db, "node1", [interval(T0 + n * MINUTE, summary(sid, **kw))])
        return latest(db, a)

    # Never seen busy: idle since the first idle interval's start.
    assert send(0, util=0.0, busy=False).idle_since == naive(T0)
    assert send(1, util=0.0, busy=False).idle_since == naive(T0)
    # Busy: last_busy at its last busy sample, not idle.
    busy_at = T0 + 2 * MINUTE + dt.timedelta(seconds=30)
    row = send(2, util=90.0, busy=True, last_busy=busy_at)
    assert (row.last_busy, row.idle_since) == (naive(busy_at), None)
    # Unknown (no figure told): not idle, last_busy kept.
    row = send(3, util=None, busy=None)
    assert (row.last_busy, row.idle_since) == (naive(busy_at), None)
    # Idle again: since it was last seen busy.
    row = send(4, util=1.0, busy=False)
    assert (row.last_busy, row.idle_since) == (naive(busy_at), naive(busy_at))


def test_unknown_devices_are_counted_and_skipped(two):
    db, _a, _b = two
    got = usage.receive(
        db,
        "node1",
        [interval(T0, summary("0000:3b:00.0"), summary("not-reported-yet"))],
    )
    assert (got.accepted, got.unknown) == (1, 1)
    # Another host's device of the same stable id is not this host's.
    seed.device(db, hostname="node2", pci="0000:5e:00.0")
    assert usage.receive(db, "node1", [interval(T0, summary("0000:5e:00.0"))]).unknown == 1
    assert len(rollups(db)) == 1


def test_the_answer_names_devices_bound_to_an_arq(two):
    db, a, _b = two
    with db.transaction() as s:
        profile = models.DeviceProfile(name="gpu", groups='[{"resources:PGPU": "1"}]')
        s.add(profile)
        s.flush()
        handle = s.scalar(
            sa.select(models.AttachHandle.id)
            .join(models.Deployable)
            .where(models.Deployable.device_id == a)
        )
        for state, held in (("Bound", handle), ("Initial", None)):
            s.add(
                models.AcceleratorRequest(
                    state=state,
                    device_profile_id=profile.id,
                    device_profile_group_id=0,
                    attach_handle_id=held,
                )
            )
    got = usage.receive(db, "node1", [interval(T0, summary("0000:3c:00.0"))])
    assert got.allocated == ["0000:3b:00.0"]


def test_malformed_reports_are_refused_whole(two):
    db, _a, _b = two
    bad = [
        [{"interval_start": "2026-03-01T10:00:00", "interval_end": "2026-03-01T10:01:00"}],
        [interval(T0, summary("x"), length=dt.timedelta(0))],
        [interval(T0, summary("x"), summary("x"))],
        [interval(T0, {"stable_id": "x"})],
        "not a list",
    ]
    for reports in bad:
        with pytest.raises(exception.Invalid):
            usage.receive(db, "node1", reports)
    assert rollups(db) == []


def add_rows(db, device_id, start, count, *, resolution=60, util=10.0, samples=6, busy=False):
    with db.transaction() as s:
        db_usage.add_rollups(
            s,
            [
                db_usage.Rollup(
                    device_id,
                    resolution,
                    naive(start) + n * dt.timedelta(seconds=resolution),
                    samples,
                    util,
                    None if util is None else util + 5,
                    100 + n,
                    200.0,
                    40.0 + n,
                    n % 3,
                    busy,
                )
                for n in range(count)
            ],
        )


def keeper(db, now, **kw):
    settings = {"retention_hours": 2, "history_days": 1, "batch": 7, "rollup_delay": 0}
    settings.update(kw)
    return usage.Housekeeping(db, clock=lambda: naive(now), **settings)


def test_hourly_rollup_weights_means_by_samples_and_lands_once(two):
    db, a, b = two
    hour = T0 - dt.timedelta(hours=1)
    add_rows(db, a, hour, 30, util=10.0, samples=6)
    add_rows(db, a, hour + 30 * MINUTE, 30, util=40.0, samples=2, busy=True)
    add_rows(db, b, hour, 60, util=None)
    # Another resolution in the same hour (an agent whose interval changed) counts too.
    add_rows(db, b, hour + 10 * MINUTE, 1, resolution=600, util=None, samples=60)
    # The current hour is not complete: not rolled.
    add_rows(db, a, T0, 5)
    done = keeper(db, T0 + 5 * MINUTE, retention_hours=48).run_once()
    assert done.pruned_intervals == 0
    hourly = rollups(db, 3600)
    assert [(r.device_id, r.start) for r in hourly] == [(a, naive(hour)), (b, naive(hour))]
    ha, hb = hourly
    assert ha.samples == 30 * 6 + 30 * 2
    assert ha.utilization_percent_mean == pytest.approx((10 * 180 + 40 * 60) / 240)
    assert ha.utilization_percent_max == 45.0
    assert ha.memory_used_bytes == 129
    assert ha.temperature_celsius == 69.0
    assert ha.processes == 2
    assert ha.power_watts == pytest.approx(200.0)
    assert ha.busy is True
    assert hb.samples == 60 * 6 + 60
    assert hb.utilization_percent_mean is None
    assert hb.busy is False

    # A second conductor (or a restart) rolls nothing twice.
    again = keeper(db, T0 + 5 * MINUTE, retention_hours=48)
    again.run_once()
    assert len(rollups(db, 3600)) == 2
    # The next hour is rolled once it is complete and the delay passed.
    later = keeper(db, T0 + 90 * MINUTE, retention_hours=48, rollup_delay=3600)
    assert later.run_once().hours_rolled == 0
    assert (
        keeper(db, T0 + 2 * dt.timedelta(hours=1), retention_hours=48).run_once().hours_rolled == 2
    )
    assert [r.start for r in rollups(db, 3600) if r.device_id == a] == [naive(hour), naive(T0)]


def test_pruning_in_batches_keeps_what_is_recent(two):
    db, a, b = two
    now = T0 + dt.timedelta(days=3)
    # 3 hours of a's minutes ending an hour ago; b's minutes within the retention; b's hourly
    # rows from 2 days to 19 hours ago.
    add_rows(db, a, now - dt.timedelta(hours=4), 180)
    add_rows(db, b, now - 30 * MINUTE, 20)
    add_rows(db, b, now - dt.timedelta(days=2), 30, resolution=3600)
    done = keeper(db, now, retention_hours=2, history_days=1, batch=7).run_once()
    # Everything that started over 2 hours ago goes: 120 minutes of a's, in batches of 7.
    assert done.pruned_intervals == 120
    minutes = rollups(db)
    assert len(minutes) == 60 + 20
    assert min(r.start for r in minutes) >= naive(now - dt.timedelta(hours=2))
    # a's hours were rolled up before its minutes went.
    hourly = rollups(db, 3600)
    assert [r.start.hour for r in hourly if r.device_id == a] == [6, 7, 8]
    # Hourly rows older than a day go.
    assert done.pruned_hours == 24
    assert all(r.start >= naive(now - dt.timedelta(days=1)) for r in hourly)
    # b: six of its old hours, and the one its minutes made.
    assert len([r for r in hourly if r.device_id == b]) == 7
