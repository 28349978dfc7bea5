"""The rollout engine against SQL on every backend, with an in-process fake agent.

The fake agent behaves as the real one does: it runs a job uuid at most once (a repeated
dispatch is ignored), and the test decides when each job finishes, so limits, budgets, pauses,
crashes and deadlines can be exercised step by step.
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest
import sqlalchemy as sa

from cyborg_lite.conductor.rollout import Engine
from cyborg_lite.conductor.rollout_io import Settings
from cyborg_lite.conductor.rollout_watch import Watchdog
from cyborg_lite.db import models, rollout_jobs
from cyborg_lite.firmware import states
from tests import firmware_fleet as ff


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 11, 22, 12, 0, 0)

    def __call__(self):
        return self.now

    def tick(self, seconds):
        self.now += dt.timedelta(seconds=seconds)


class FakeAgents:
    """Agents that accept jobs, remember them, and let the test finish them."""

    def __init__(self):
        self.running = {}  # job uuid -> payload, dispatched and not finished
        self.flashed = collections.Counter()  # device uuid -> flashes
        self.dispatches = 0
        self.status = {}  # job uuid -> what job_status answers
        self.max_in_flight = 0
        self.max_per_host = 0

    def flash(self, hostname, job):
        self.dispatches += 1
        if job["job_uuid"] in self.status or job["job_uuid"] in self.running:
            return  # a real agent runs a job uuid at most once
        self.running[job["job_uuid"]] = job
        self.status[job["job_uuid"]] = {"state": "flashing"}
        self.flashed[job["device_uuid"]] += 1
        per_host = collections.Counter(j["hostname"] for j in self.running.values())
        self.max_in_flight = max(self.max_in_flight, len(self.running))
        self.max_per_host = max(self.max_per_host, max(per_host.values()))

    def job_status(self, hostname, job_uuid):
        return self.status.get(job_uuid)

    def finish(self, engine, job_uuid, ok=True, version=ff.NEW):
        self.running.pop(job_uuid)
        state = states.SUCCEEDED if ok else states.JOB_FAILED
        self.status[job_uuid] = {"state": state, "version": version if ok else None}
        engine.job_update(job_uuid, states.FLASHING)
        engine.job_update(
            job_uuid,
            state,
            version=version if ok else None,
            error_code=None if ok else "hw-error",
            message=None if ok else "simulated failure",
        )

    def drain_all(self, engine, fail=lambda job: False, limit=10_000):
        """Finish running jobs one at a time (oldest first) until none run."""
        for _ in range(limit):
            if not self.running:
                return
            job_uuid, job = next(iter(self.running.items()))
            self.finish(engine, job_uuid, ok=not fail(job))
        raise AssertionError("jobs kept coming")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def agents():
    return FakeAgents()


def make_engine(db, agents, clock, owner="conductor-a", **settings):
    return Engine(db, agents, owner=owner, clock=clock, settings=Settings(**settings))


def rollout_row(db, uuid):
    with db.transaction() as s:
        return s.scalar(sa.select(models.Rollout).where(models.Rollout.uuid == uuid))


def job_states(db, uuid):
    with db.transaction() as s:
        rid = s.scalar(sa.select(models.Rollout.id).where(models.Rollout.uuid == uuid))
        rows = s.execute(
            sa.select(models.RolloutJob.state, sa.func.count())
            .where(models.RolloutJob.rollout_id == rid)
            .group_by(models.RolloutJob.state)
        ).all()
    return dict(rows)


def test_full_rollout_within_limits(db, agents, clock):
    devices = ff.fleet(db, hosts=12, per_host=3)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {
            "canary": 2,
            "waves": ["10%", "50%", "100%"],
            "max_in_flight": 5,
            "max_in_flight_per_host": 1,
        },
    )
    engine = make_engine(db, agents, clock)
    engine.advance(uuid)
    assert len(agents.running) == 2  # the canary wave only
    agents.drain_all(engine)
    r = rollout_row(db, uuid)
    assert r.state == states.COMPLETED
    assert r.message == "36 succeeded, 0 failed, 0 pending activation."
    assert set(agents.flashed) == {d["device_uuid"] for d in devices}
    assert set(agents.flashed.values()) == {1}
    assert agents.max_in_flight == 5
    assert agents.max_per_host == 1
    with db.transaction() as s:
        versions = set(s.scalars(sa.select(models.FirmwareComponent.version)))
        drains = set(s.scalars(sa.select(models.Device.firmware_drain)))
    assert versions == {ff.NEW}
    assert drains == {None}


def test_drain_held_while_in_flight(db, agents, clock):
    ff.fleet(db, hosts=1, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000"]}, {"canary": 0})
    engine = make_engine(db, agents, clock)
    engine.advance(uuid)
    [job_uuid] = agents.running
    with db.transaction() as s:
        assert s.scalar(sa.select(models.Device.firmware_drain)) == job_uuid
    agents.finish(engine, job_uuid)
    with db.transaction() as s:
        assert s.scalar(sa.select(models.Device.firmware_drain)) is None


def test_failure_budget_halts_then_resume_completes(db, agents, clock):
    ff.fleet(db, hosts=20, per_host=1)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {
            "canary": 0,
            "waves": ["100%"],
            "max_in_flight": 20,
            "failure_budget": {"count": 3, "rate": 1.0},
        },
    )
    engine = make_engine(db, agents, clock)
    engine.advance(uuid)
    failing = set(list(agents.running)[:5])
    agents.drain_all(engine, fail=lambda job: job["job_uuid"] in failing)
    r = rollout_row(db, uuid)
    assert r.state == states.HALTED
    assert "3 of 20 jobs failed" in r.message or "of 20 jobs failed" in r.message
    counts = job_states(db, uuid)
    assert counts[states.JOB_FAILED] >= 3
    # Halted: nothing new starts.
    before = agents.dispatches
    engine.advance(uuid)
    assert agents.dispatches == before
    from cyborg_lite.usecases import rollouts as use_cases

    with db.transaction() as s:
        use_cases.resume(s, uuid, "operator")
    engine.advance(uuid)
    agents.drain_all(engine)
    r = rollout_row(db, uuid)
    assert r.state == states.COMPLETED  # ran to its end; the counts show who failed
    assert "failed" in r.message
    assert job_states(db, uuid).get(states.PENDING, 0) == 0


def test_pause_stops_new_jobs_abort_cancels(db, agents, clock):
    from cyborg_lite.usecases import rollouts as use_cases

    ff.fleet(db, hosts=6, per_host=1)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 2},
    )
    engine = make_engine(db, agents, clock)
    engine.advance(uuid)
    assert len(agents.running) == 2
    with db.transaction() as s:
        use_cases.pause(s, uuid, "operator")
    agents.drain_all(engine)  # in-flight jobs finish...
    assert agents.dispatches == 2  # ...and nothing new starts
    with db.transaction() as s:
        use_cases.resume(s, uuid, "operator")
    engine.advance(uuid)
    assert len(agents.running) == 2
    with db.transaction() as s:
        use_cases.abort(s, uuid, "operator")
    agents.drain_all(engine)
    counts = job_states(db, uuid)
    assert counts == {states.SUCCEEDED: 4, states.CANCELLED: 2}
    assert rollout_row(db, uuid).state == states.ABORTED
    assert agents.dispatches == 4


def test_takeover_after_crash_flashes_nothing_twice(db, agents, clock):
    devices = ff.fleet(db, hosts=8, per_host=1)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 4},
    )
    a = make_engine(db, agents, clock, owner="a", lease_seconds=30)
    a.advance(uuid)
    assert len(agents.running) == 4
    # Conductor a dies. Conductor b cannot take the rollout while a's lease lasts...
    b = make_engine(db, agents, clock, owner="b", lease_seconds=30)
    dispatched = agents.dispatches
    b.advance(uuid)
    assert agents.dispatches == dispatched
    assert rollout_row(db, uuid).lease_owner == "a"
    # ...and does once it has expired: it re-sends the dispatched jobs (the agent ignores
    # repeats) and carries the rollout to its end.
    clock.tick(31)
    b.advance(uuid)
    assert agents.dispatches == dispatched + 4
    assert rollout_row(db, uuid).lease_owner == "b"
    agents.drain_all(b)
    assert rollout_row(db, uuid).state == states.COMPLETED
    assert set(agents.flashed) == {d["device_uuid"] for d in devices}
    assert set(agents.flashed.values()) == {1}


def test_takeover_log_names_the_previous_owner(db, agents, clock, caplog):
    ff.fleet(db, hosts=1, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000"]}, {"canary": 0})
    make_engine(db, agents, clock, owner="a", lease_seconds=30).advance(uuid)
    clock.tick(31)
    with caplog.at_level("INFO", logger="cyborg_lite.conductor.rollout"):
        make_engine(db, agents, clock, owner="b", lease_seconds=30).advance(uuid)
    assert f"Conductor b takes over rollout {uuid} from a" in caplog.text


def test_a_finished_rollout_takes_no_lease(db, agents, clock):
    ff.fleet(db, hosts=1, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000"]}, {"canary": 0})
    a = make_engine(db, agents, clock, owner="a", lease_seconds=30)
    a.advance(uuid)
    agents.drain_all(a)
    done = rollout_row(db, uuid)
    assert (done.state, done.lease_owner, done.lease_expires) == (states.COMPLETED, None, None)
    # Another conductor's late sweep over it (its list read before the end) changes nothing.
    clock.tick(31)
    assert make_engine(db, agents, clock, owner="b").advance(uuid) is None
    again = rollout_row(db, uuid)
    assert (again.state, again.lease_owner, again.lease_expires) == (states.COMPLETED, None, None)


def test_duplicate_and_late_messages_change_nothing(db, agents, clock):
    ff.fleet(db, hosts=1, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000"]}, {"canary": 0})
    engine = make_engine(db, agents, clock)
    engine.advance(uuid)
    [job_uuid] = agents.running
    agents.finish(engine, job_uuid)
    engine.job_update(job_uuid, states.SUCCEEDED, version=ff.NEW)
    engine.job_update(job_uuid, states.FLASHING)
    engine.job_update(job_uuid, states.JOB_FAILED, error_code="hw-error")
    assert job_states(db, uuid) == {states.SUCCEEDED: 1}
    assert engine.job_update("no-such-job", states.SUCCEEDED) is False


def test_overdue_jobs_are_retried_then_failed(db, agents, clock):
    ff.fleet(db, hosts=1, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000"]}, {"canary": 0})

    class SilentAgents(FakeAgents):
        def flash(self, hostname, job):
            self.dispatches += 1  # the cast is lost: the agent never hears of the job

    silent = SilentAgents()
    settings = Settings(job_timeout_seconds=60, max_attempts=2)
    engine = Engine(db, silent, owner="a", clock=clock, settings=settings)
    watchdog = Watchdog(engine, db, silent, settings, clock)
    engine.advance(uuid)
    watchdog.check(uuid)
    assert silent.dispatches == 1  # not overdue yet
    clock.tick(61)
    watchdog.check(uuid)
    assert silent.dispatches == 2  # asked, unknown: sent again
    clock.tick(61)
    watchdog.check(uuid)
    assert job_states(db, uuid) == {states.JOB_FAILED: 1}
    with db.transaction() as s:
        job = s.scalar(sa.select(models.RolloutJob))
    assert job.error_code == "timeout"
    assert job.attempts == 2


def test_overdue_job_the_agent_is_running_gets_more_time(db, agents, clock):
    ff.fleet(db, hosts=1, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000"]}, {"canary": 0})
    settings = Settings(job_timeout_seconds=60)
    engine = Engine(db, agents, owner="a", clock=clock, settings=settings)
    watchdog = Watchdog(engine, db, agents, settings, clock)
    engine.advance(uuid)
    [job_uuid] = agents.running
    clock.tick(61)
    watchdog.check(uuid)
    assert job_states(db, uuid) == {states.DISPATCHED: 1}
    # The agent finished, but its result message was lost: the watchdog learns it by asking.
    agents.running.pop(job_uuid)
    agents.status[job_uuid] = {"state": states.SUCCEEDED, "version": ff.NEW}
    clock.tick(61)
    watchdog.check(uuid)
    assert job_states(db, uuid) == {states.SUCCEEDED: 1}
    assert rollout_row(db, uuid).state == states.COMPLETED


def test_host_down_fails_its_jobs(db, agents, clock):
    ff.fleet(db, hosts=2, per_host=1)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"hosts": ["node000", "node001"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 2},
    )
    engine = make_engine(db, agents, clock)
    watchdog = Watchdog(engine, db, agents, Settings(), clock)
    engine.advance(uuid)
    watchdog.check(uuid, down_hosts=["node001"])
    with db.transaction() as s:
        failed = s.execute(
            sa.select(models.RolloutJob.hostname, models.RolloutJob.error_code).where(
                models.RolloutJob.state == states.JOB_FAILED
            )
        ).all()
    assert failed == [("node001", "host-down")]


def test_window_and_bake(db, agents, clock):
    ff.fleet(db, hosts=4, per_host=1)
    clock.now = dt.datetime(2026, 11, 22, 17, 0)  # 17:00 UTC, before the window
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {
            "canary": 1,
            "waves": ["100%"],
            "max_in_flight": 4,
            "bake_seconds": 600,
            "window": {"start": "18:00", "end": "06:00", "timezone": "UTC"},
        },
    )
    engine = make_engine(db, agents, clock)
    wake = engine.advance(uuid)
    assert agents.dispatches == 0
    assert wake == dt.datetime(2026, 11, 22, 18, 0)
    clock.now = wake
    engine.advance(uuid)
    assert len(agents.running) == 1  # the canary
    agents.drain_all(engine)
    wake = engine.advance(uuid)
    assert agents.dispatches == 1  # baking
    assert wake == clock.now + dt.timedelta(seconds=600)
    clock.now = wake
    engine.advance(uuid)
    assert len(agents.running) == 3
    agents.drain_all(engine)
    assert rollout_row(db, uuid).state == states.COMPLETED


def test_in_use_wait_holds_until_released(db, agents, clock):
    devices = ff.fleet(db, hosts=2, per_host=1)
    with db.transaction() as s:  # an instance holds node000's GPU
        handle = s.scalar(
            sa.select(models.AttachHandle).where(
                models.AttachHandle.deployable_id == devices[0]["deployable_id"]
            )
        )
        profile = models.DeviceProfile(name="p", groups="[]")
        s.add(profile)
        s.flush()
        arq = models.AcceleratorRequest(
            device_profile_id=profile.id,
            device_profile_group_id=0,
            state="Bound",
            attach_handle_id=handle.id,
        )
        s.add(arq)
        handle.in_use = True
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"hosts": ["node000", "node001"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 2, "in_use": "wait"},
    )
    engine = make_engine(db, agents, clock)
    engine.advance(uuid)
    assert [j["device_uuid"] for j in agents.running.values()] == [devices[1]["device_uuid"]]
    agents.drain_all(engine)
    assert rollout_row(db, uuid).state == states.RUNNING
    with db.transaction() as s:
        s.execute(sa.delete(models.AcceleratorRequest))
    clock.tick(31)
    engine.advance(uuid)
    agents.drain_all(engine)
    assert rollout_row(db, uuid).state == states.COMPLETED


def test_a_result_racing_a_progress_cast_still_applies(db, agents, clock, monkeypatch):
    """Progress comes as a cast, the result as a call: two conductor threads may apply them
    in either order. A result whose read saw ``dispatched`` while the progress committed
    ``verifying`` must still move the job to its end; progress after the result is ignored."""
    ff.fleet(db, hosts=2, per_host=1)
    engine = make_engine(db, agents, clock)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 2},
    )
    engine.advance(uuid)
    first, second = sorted(agents.running)
    real_brief = rollout_jobs.brief

    def stale_brief(session, job_uuid):
        row = real_brief(session, job_uuid)
        # The progress commits between this thread's read and its update. (Not on SQLite:
        # one writer at a time, and the conductor runs its SQLite transactions one by one.)
        if job_uuid == first and db.dialect != "sqlite":
            with db.transaction() as other:
                rollout_jobs.move(other, job_uuid, [states.DISPATCHED], states.VERIFYING)
        return row

    monkeypatch.setattr(rollout_jobs, "brief", stale_brief)
    assert engine.job_update(first, states.SUCCEEDED, version=ff.NEW) is True
    monkeypatch.setattr(rollout_jobs, "brief", real_brief)
    assert engine.job_update(second, states.SUCCEEDED, version=ff.NEW) is True
    assert engine.job_update(second, states.FLASHING) is False  # late progress: ignored
    assert job_states(db, uuid) == {states.SUCCEEDED: 2}
    assert states.sources(states.SUCCEEDED) == [
        states.PENDING,
        states.DRAINING,
        states.DISPATCHED,
        states.FLASHING,
        states.VERIFYING,
        states.PENDING_ACTIVATION,
    ]


def test_a_pass_starting_many_jobs_drains_and_sends_each_its_own_payload(db, agents, clock):
    devices = ff.fleet(db, hosts=30, per_host=2)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 60, "max_in_flight_per_host": 2},
    )
    engine = make_engine(db, agents, clock)
    engine.advance(uuid)
    assert len(agents.running) == 60  # one pass, every job
    with db.transaction() as s:
        stable = dict(s.execute(sa.select(models.Device.uuid, models.Device.stable_id)).all())
        drains = dict(s.execute(sa.select(models.Device.uuid, models.Device.firmware_drain)).all())
        jobs = s.execute(
            sa.select(models.RolloutJob.uuid, models.RolloutJob.state, models.RolloutJob.attempts)
        ).all()
    assert {d["device_uuid"] for d in devices} == {
        p["device_uuid"] for p in agents.running.values()
    }
    for job_uuid, payload in agents.running.items():
        assert payload["job_uuid"] == job_uuid
        assert payload["stable_id"] == stable[payload["device_uuid"]]
        assert drains[payload["device_uuid"]] == job_uuid
    assert {(state, attempts) for _, state, attempts in jobs} == {(states.DISPATCHED, 1)}


def test_move_many_returns_only_the_jobs_that_moved(db, agents, clock):
    ff.fleet(db, hosts=5, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"models": ["NVIDIA H100 80GB HBM3"]}, {"canary": 0})
    with db.transaction() as s:
        rid = s.scalar(sa.select(models.Rollout.id).where(models.Rollout.uuid == uuid))
        uuids = sorted(
            s.scalars(sa.select(models.RolloutJob.uuid).where(models.RolloutJob.rollout_id == rid))
        )
        assert rollout_jobs.move(s, uuids[0], [states.PENDING], states.CANCELLED)
    with db.transaction() as s:
        moved = rollout_jobs.move_many(s, uuids, [states.PENDING], states.DRAINING, chunk=2)
    assert moved == set(uuids[1:])
    assert job_states(db, uuid) == {states.CANCELLED: 1, states.DRAINING: 4}


def job_rows(db, uuid):
    with db.transaction() as s:
        rid = s.scalar(sa.select(models.Rollout.id).where(models.Rollout.uuid == uuid))
        return list(
            s.scalars(
                sa.select(models.RolloutJob)
                .where(models.RolloutJob.rollout_id == rid)
                .order_by(models.RolloutJob.position)
            )
        )


def test_a_result_on_a_conductor_without_the_lease_fills_the_slot_at_once(db, agents, clock):
    ff.fleet(db, hosts=3, per_host=1)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 1},
    )
    a = make_engine(db, agents, clock, owner="a", lease_seconds=30)
    b = make_engine(db, agents, clock, owner="b", lease_seconds=30)
    a.advance(uuid)
    [first] = agents.running
    # The broker hands the result to b: b starts and dispatches the next job itself, under
    # the row lock, while a keeps the lease.
    agents.finish(b, first)
    assert len(agents.running) == 1
    assert agents.max_in_flight == 1
    assert rollout_row(db, uuid).lease_owner == "a"
    agents.drain_all(b)
    assert rollout_row(db, uuid).state == states.COMPLETED
    assert [j.dispatched_by for j in job_rows(db, uuid)] == ["a", "b", "b"]
    assert set(agents.flashed.values()) == {1}


def test_a_job_left_draining_by_a_dead_conductor_is_dispatched_again(db, agents, clock):
    ff.fleet(db, hosts=2, per_host=1)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 2},
    )
    a = make_engine(db, agents, clock, owner="a", lease_seconds=30)
    a.advance(uuid)
    # Conductor b started the second job (draining committed) and died before dispatching:
    # put the first back as if only it had been dispatched, the second left draining.
    rows = job_rows(db, uuid)
    held = rows[1]
    agents.running.pop(held.uuid)
    agents.status.pop(held.uuid)
    agents.flashed[held.device_uuid] -= 1
    with db.transaction() as s:
        s.execute(
            sa.update(models.RolloutJob)
            .where(models.RolloutJob.uuid == held.uuid)
            .values(state=states.DRAINING, dispatched_by=None)
        )
    settings = Settings(lease_seconds=30)
    watchdog = Watchdog(a, db, agents, settings, clock)
    watchdog.check(uuid)
    assert held.uuid not in agents.running  # too recent: its conductor may be on it
    clock.tick(31)
    watchdog.check(uuid)
    assert held.uuid in agents.running
    agents.drain_all(a)
    assert rollout_row(db, uuid).state == states.COMPLETED
    assert set(agents.flashed.values()) == {1}


def test_each_watchdog_watches_only_the_hosts_its_conductor_owns(db, clock):
    ff.fleet(db, hosts=1, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000"]}, {"canary": 0})

    class SilentAgents(FakeAgents):
        def flash(self, hostname, job):
            self.dispatches += 1

    silent = SilentAgents()
    settings = Settings(job_timeout_seconds=60, max_attempts=2)
    engine = Engine(db, silent, owner="a", clock=clock, settings=settings)
    engine.advance(uuid)
    clock.tick(61)
    Watchdog(engine, db, silent, settings, clock, owns=lambda host: False).check(uuid)
    assert silent.dispatches == 1  # not its host: left to its owner
    Watchdog(engine, db, silent, settings, clock, owns=lambda host: host == "node000").check(uuid)
    assert silent.dispatches == 2
