"""Conductors sharing the fleet on every backend (issue 18): registration and heartbeats in
the conductors table, the same ring on every conductor, hosts moving on a clean stop and
after ``dead_after`` of silence, and the liveness check split by the ring so that each
silent host is judged by its owner. Fake clocks; no threads."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from cyborg_lite.conductor import inventory
from cyborg_lite.conductor.membership import PRUNE_AFTER, Membership
from cyborg_lite.db import conductors as db_conductors
from cyborg_lite.db import models

NOW = dt.datetime(2026, 12, 6, 4, 0, 0)
DEAD_AFTER = 60.0
HOSTS = [f"compute{i:03d}" for i in range(60)]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def clean(db):
    with db.transaction() as s:
        s.execute(sa.delete(models.Conductor))
        s.execute(sa.delete(models.Host).where(models.Host.hostname.in_(HOSTS)))
    yield
    with db.transaction() as s:
        s.execute(sa.delete(models.Conductor))
        s.execute(sa.delete(models.Host).where(models.Host.hostname.in_(HOSTS)))


def member(db, clock, name):
    return Membership(
        db,
        name,
        "ctl-host",
        heartbeat_interval=10.0,
        dead_after=DEAD_AFTER,
        exponent=10,
        clock=clock,
    )


def test_heartbeat_registers_then_updates_and_live_reads_the_cutoff(db, clean):
    with db.transaction() as s:
        assert db_conductors.heartbeat(s, "a", "h1", NOW) is True
        assert db_conductors.heartbeat(s, "b", "h2", NOW - dt.timedelta(seconds=90)) is True
    with db.transaction() as s:
        assert db_conductors.heartbeat(s, "a", "h1", NOW + dt.timedelta(seconds=10)) is False
        assert db_conductors.live(s, NOW - dt.timedelta(seconds=DEAD_AFTER)) == ["a"]
        [a, b] = db_conductors.listing(s)
        assert (a.name, a.started_at, a.heartbeat_at) == ("a", NOW, NOW + dt.timedelta(seconds=10))
        assert b.hostname == "h2"
        assert db_conductors.prune(s, NOW - dt.timedelta(seconds=60)) == 1
        assert db_conductors.remove(s, "a") is True
        assert db_conductors.listing(s) == []


def test_conductors_agree_on_the_ring_and_split_the_hosts(db, clean, clock):
    a, b, c = (member(db, clock, n) for n in ("ctl-a", "ctl-b", "ctl-c"))
    for m in (a, b, c, a, b):  # each has beaten once; a and b saw everyone
        m.beat()
    assert a.ring.members == b.ring.members == c.ring.members == {"ctl-a", "ctl-b", "ctl-c"}
    owned = [{h for h in HOSTS if m.owns(h)} for m in (a, b, c)]
    assert sum(len(o) for o in owned) == len(HOSTS)
    assert set().union(*owned) == set(HOSTS)
    assert all(owned)


def test_a_clean_stop_hands_the_hosts_over_at_the_next_beat(db, clean, clock):
    a, b = member(db, clock, "ctl-a"), member(db, clock, "ctl-b")
    a.beat(), b.beat(), a.beat()
    assert not all(a.owns(h) for h in HOSTS)
    b.stop()  # deregisters
    a.beat()
    assert all(a.owns(h) for h in HOSTS)


def test_a_dead_conductor_is_dropped_after_dead_after_and_pruned_later(db, clean, clock):
    a, b = member(db, clock, "ctl-a"), member(db, clock, "ctl-b")
    a.beat(), b.beat(), a.beat()
    # b dies: no more beats. Within dead_after a still leaves b's hosts to b...
    clock.tick(DEAD_AFTER)
    a.beat()
    assert a.ring.members == {"ctl-a", "ctl-b"}
    # ...and takes them once b's last beat is older than that.
    clock.tick(1)
    a.beat()
    assert a.ring.members == {"ctl-a"}
    assert all(a.owns(h) for h in HOSTS)
    with db.transaction() as s:
        assert [x.name for x in db_conductors.listing(s)] == ["ctl-a", "ctl-b"]
    clock.tick(PRUNE_AFTER * DEAD_AFTER)
    a.beat()
    with db.transaction() as s:
        assert [x.name for x in db_conductors.listing(s)] == ["ctl-a"]
    # A new conductor takes its share at its first beat and the others' next.
    d = member(db, clock, "ctl-d")
    d.beat(), a.beat()
    assert a.ring.members == d.ring.members == {"ctl-a", "ctl-d"}
    assert 0 < sum(d.owns(h) for h in HOSTS) < len(HOSTS)


def test_before_its_first_beat_a_conductor_owns_every_host(db, clean, clock):
    lonely = member(db, clock, "ctl-new")
    assert all(lonely.owns(h) for h in HOSTS)


def test_each_silent_host_is_marked_down_by_its_owner_once(db, clean, clock):
    with db.transaction() as s:
        for h in HOSTS:
            s.add(models.Host(hostname=h, state="up", last_heartbeat=NOW - dt.timedelta(hours=1)))
    a, b = member(db, clock, "ctl-a"), member(db, clock, "ctl-b")
    a.beat(), b.beat(), a.beat()
    by_a = inventory.mark_silent_hosts_down(db, NOW, 60.0, owns=a.owns)
    by_b = inventory.mark_silent_hosts_down(db, NOW, 60.0, owns=b.owns)
    a_hosts = {p["hostname"] for _, p in by_a}
    b_hosts = {p["hostname"] for _, p in by_b}
    assert a_hosts
    assert b_hosts
    assert a_hosts.isdisjoint(b_hosts)
    assert a_hosts | b_hosts == set(HOSTS)
    assert a_hosts == {h for h in HOSTS if a.owns(h)}


def test_a_batch_of_heartbeats_is_recorded_and_names_the_reports_wanted(db, clean):
    with db.transaction() as s:
        s.add(models.Host(hostname=HOSTS[0], state="up", report_digest="d0", last_heartbeat=NOW))
        s.add(models.Host(hostname=HOSTS[1], state="down", report_digest="d1", last_heartbeat=NOW))
    later = NOW + dt.timedelta(seconds=30)
    beats = [
        {"host": HOSTS[0], "agent_version": "2.0", "digest": "d0"},  # known, same digest
        {"host": HOSTS[1], "agent_version": "2.0", "digest": "changed"},  # down, new digest
        {"host": HOSTS[2], "agent_version": "2.0", "digest": "x"},  # unknown to SQL
        {"host": 7, "digest": None},  # malformed: skipped
    ]
    wanted, events = inventory.receive_heartbeats(db, beats, later)
    assert wanted == [HOSTS[1], HOSTS[2]]
    assert events == [("host.up", {"hostname": HOSTS[1], "new": False})]
    with db.transaction() as s:
        rows = {
            h.hostname: (h.state, h.last_heartbeat, h.agent_version)
            for h in s.scalars(sa.select(models.Host).where(models.Host.hostname.in_(HOSTS)))
        }
    assert rows == {HOSTS[0]: ("up", later, "2.0"), HOSTS[1]: ("up", later, "2.0")}
    assert inventory.receive_heartbeats(db, [], later) == ([], [])


def test_the_conductor_asks_each_host_whose_report_it_wants_with_a_cast_back(db, clean):
    from cyborg_lite.conductor.manager import ConductorManager

    with db.transaction() as s:
        s.add(models.Host(hostname=HOSTS[0], state="up", report_digest="d0", last_heartbeat=NOW))
    asked: list[str] = []
    manager = ConductorManager(db, None, clock=lambda: NOW, ask_report=asked.append)
    beats = [
        {"host": HOSTS[0], "agent_version": "2.0", "digest": "d0"},
        {"host": HOSTS[3], "agent_version": "2.0", "digest": "new"},
    ]
    assert manager.heartbeats(None, beats) == {"report_wanted": [HOSTS[3]]}
    assert asked == [HOSTS[3]]
