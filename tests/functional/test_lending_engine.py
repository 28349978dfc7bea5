"""The lending engine on every backend (issue 17): a window opening offers idle devices (the
traits in the deployable's body and in the Placement sync's specs), the reserve kept, a
borrower's bind opens a loan, the window closing moves it to reclaiming with a notice, the
deadline runs the pool's on_reclaim through a recording Nova (once), failures are retried on
a later pass, a new engine after a "restart" acts at the deadline, a borrower leaving during
the notice gives the device back, and passes in a row change nothing. Fake clocks only."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from cyborg_lite.api.views import deployables as deployable_views
from cyborg_lite.conductor.lending import LendingEngine
from cyborg_lite.conductor.lending_runner import LendingRunner
from cyborg_lite.context import RequestContext
from cyborg_lite.db import arqs as db_arqs
from cyborg_lite.db import deployables as db_deployables
from cyborg_lite.db import lending_devices, models
from cyborg_lite.db import providers as db_providers
from cyborg_lite.db.engine import in_transaction
from cyborg_lite.lending.pools import LENDABLE_TRAIT
from cyborg_lite.placement import sync as placement_sync
from cyborg_lite.usecases import arqs as arq_cases
from cyborg_lite.usecases import pools as pool_cases
from tests.functional.test_lending_usecases import (
    BORROWER,
    OWNER,
    Recorder,
    arq_row,
    bind,
    gpus,
    loans_of,
    make_arqs,
)

MONDAY = dt.datetime(2026, 3, 2, 12, 0, 0)  # naive UTC, a Monday
OPENS, CLOSES = MONDAY.replace(hour=13), MONDAY.replace(hour=14)
NOTICE = 300
RETRY = 30.0
CONFIRM = 5.0
TRAIT = "CUSTOM_CYBORG_POOL_TEAM_A"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


# What a Nova that carries an accepted action out at once shows for the server afterwards.
DONE = {"stop": "SHUTOFF", "shelve": "SHELVED_OFFLOADED", "delete": "DELETED"}


class Nova:
    """A recording ``NovaServers`` (fails a call made with a transaction open): servers are
    ACTIVE until an accepted action takes effect, at once unless ``slow``; ``ok`` False
    refuses actions, ``readable`` False fails status reads."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.looks: list[str] = []
        self.status: dict[str, str] = {}
        self.ok = True
        self.slow = False
        self.readable = True

    def server_action(self, instance_uuid: str, action: str) -> bool:
        assert not in_transaction(), "Nova called with a transaction open"
        self.calls.append((instance_uuid, action))
        if self.ok and not self.slow:
            self.status[instance_uuid] = DONE[action]
        return self.ok

    def server_status(self, instance_uuid: str) -> str | None:
        assert not in_transaction(), "Nova called with a transaction open"
        self.looks.append(instance_uuid)
        return self.status.get(instance_uuid, "ACTIVE") if self.readable else None


class Sync:
    """A recording ``DeviceSync``."""

    def __init__(self) -> None:
        self.synced: list[str] = []

    def sync_device(self, device_uuid: str, *, request_id: str | None = None) -> bool:
        assert not in_transaction(), "Placement called with a transaction open"
        self.synced.append(device_uuid)
        return True


class Notices:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def __call__(self, events) -> None:
        assert not in_transaction(), "notified with a transaction open"
        self.events.extend(events)


@pytest.fixture
def clock():
    return Clock(MONDAY)


@pytest.fixture
def world(db, clock):
    return World(db, clock)


class World:
    """A pool of three idle GPUs (reserve 1) with a Monday 13:00-14:00 UTC window, and an
    engine with recording Nova, Placement and notifier."""

    def __init__(self, db, clock, on_reclaim="stop"):
        self.db, self.clock = db, clock
        self.devs = gpus(db, 3)
        with db.transaction() as s:
            for dev in self.devs:
                s.add(
                    models.DeviceUsage(
                        device_id=dev["device_id"],
                        sampled_at=MONDAY,
                        idle_since=MONDAY - dt.timedelta(hours=2),
                        last_busy=MONDAY - dt.timedelta(hours=2),
                    )
                )
        self.cases = pool_cases.Pools(db, Recorder(), clock=clock)
        ctx = RequestContext(project_id=OWNER)
        body = {
            "name": "team-a",
            "selector": {"hosts": ["compute1"]},
            "borrower_project_ids": [BORROWER],
            "notice_seconds": NOTICE,
            "min_idle_seconds": 600,
            "reserve": {"count": 1},
            "on_reclaim": on_reclaim,
        }
        self.pool = self.cases.create(ctx, body, project_id=OWNER).pool
        window = {"days": ["mon"], "start": "13:00", "end": "14:00"}
        self.cases.add_window(ctx, self.pool.uuid, window, project_id=OWNER)
        self.nova, self.sync, self.notices = Nova(), Sync(), Notices()
        self.engine = self.new_engine()

    def new_engine(self):
        return LendingEngine(
            self.db,
            emit=self.notices,
            device_sync=self.sync,
            nova=self.nova,
            retry_seconds=RETRY,
            confirm_seconds=CONFIRM,
            clock=self.clock,
        )

    def run(self, at=None, engine=None):
        if at is not None:
            self.clock.now = at
        return (engine or self.engine).run_pass(self.pool.uuid)

    def offered(self):
        with self.db.transaction() as s:
            return lending_devices.offered(s, self.pool.id)

    def lend(self):
        """At the window's opening: offers made, the borrower binds the first one."""
        self.run(at=OPENS)
        [arq] = make_arqs(self.db, BORROWER)
        first = next(d for d in self.devs if d["device_uuid"] == self.offered()[0])
        assert bind(self.db, arq, first["rp_uuid"]) == "Bound"
        [loan] = loans_of(self.db)
        assert loan.state == "active"
        return arq, loan


def traits_shown(db, dev):
    with db.transaction() as s:
        found = db_deployables.get_deployable(s, dev["deployable_uuid"])
    body = deployable_views.serialize(found, "http://x")
    return {v for item in json.loads(body["attributes_list"]) for v in item.values()}


def traits_synced(db, dev):
    with db.transaction() as s:
        [spec] = placement_sync.specs(
            db_providers.of_device(s, dev["device_uuid"]),
            lending_devices.offered_traits(s, hostname="compute1"),
        )
    return spec.traits


def test_a_window_opening_offers_idle_devices_keeping_the_reserve(world):
    closed = world.run()
    assert world.offered() == []
    assert closed.offered == []
    assert closed.next_due == OPENS
    # The first pass syncs every member once (a restart repairs a withdrawn offer).
    assert sorted(world.sync.synced) == sorted(d["device_uuid"] for d in world.devs)
    world.sync.synced.clear()

    opened = world.run(at=OPENS)
    assert len(opened.offered) == 2
    assert opened.withdrawn == []
    assert world.offered() == opened.offered
    assert sorted(world.sync.synced) == opened.offered
    assert opened.next_due == CLOSES
    for dev in world.devs:
        lent = dev["device_uuid"] in opened.offered
        assert ({LENDABLE_TRAIT, TRAIT} <= traits_shown(world.db, dev)) is lent
        assert ({LENDABLE_TRAIT, TRAIT} <= traits_synced(world.db, dev)) is lent
        assert "OWNER_CYBORG" in traits_synced(world.db, dev)


def test_passes_in_a_row_change_nothing(world):
    _, loan = world.lend()
    # The first pass after the bind takes the lent device's offer off (it is bound now).
    assert world.run().withdrawn == [loan.device_uuid]
    world.sync.synced.clear()
    for _ in range(3):
        again = world.run()
        assert not again.changed, again
    assert world.sync.synced == []
    assert world.nova.calls == []
    assert world.notices.events == []


def test_withdrawing_an_offer_takes_the_traits_off_at_once(world):
    world.run(at=OPENS)
    [dev] = [d for d in world.devs if d["device_uuid"] == world.offered()[0]]
    with world.db.transaction() as s:
        lending_devices.clear_offers(s, world.pool.id, [dev["device_uuid"]])
    assert LENDABLE_TRAIT not in traits_shown(world.db, dev)
    assert LENDABLE_TRAIT not in traits_synced(world.db, dev)


def test_an_explicit_reclaim_keeps_idle_devices_back_until_the_window_closes(world):
    world.run(at=OPENS)
    offered = world.offered()
    assert len(offered) == 2
    ctx = RequestContext(project_id=OWNER)
    reclaimed = world.cases.reclaim(ctx, world.pool.uuid, None, project_id=OWNER)
    assert sorted(reclaimed.withdrawn) == offered
    # Still open and still idle, but the owner took them back: the next pass offers nothing.
    again = world.run(at=OPENS + dt.timedelta(minutes=5))
    assert again.offered == []
    assert world.offered() == []
    # The next week's window lends them again.
    assert world.run(at=OPENS + dt.timedelta(days=7)).offered == offered


def handle_in_use(db, dev):
    with db.transaction() as s:
        return s.scalar(
            sa.select(models.AttachHandle.in_use).where(
                models.AttachHandle.deployable_id == dev["deployable_id"]
            )
        )


def device_of(world, loan):
    return next(d for d in world.devs if d["device_uuid"] == loan.device_uuid)


@pytest.mark.parametrize("action", ["stop", "shelve", "delete", "notify"])
def test_window_close_reclaims_with_notice_then_acts_once(db, clock, action):
    world = World(db, clock, on_reclaim=action)
    arq, loan = world.lend()
    closing = world.run(at=CLOSES)
    assert closing.reclaimed == [loan.uuid]
    assert closing.next_due == CLOSES + dt.timedelta(seconds=NOTICE)
    assert world.offered() == []
    assert sorted(closing.withdrawn) == sorted(closing.synced)
    [(event, payload)] = world.notices.events
    assert event == "loan.reclaim"
    assert payload == {
        "loan_uuid": loan.uuid,
        "device_uuid": loan.device_uuid,
        "instance_uuid": loan.instance_uuid,
        "borrower_project_id": BORROWER,
        "deadline": "2026-03-02T14:05:00+00:00",
    }
    assert world.nova.calls == []
    assert not world.run(at=CLOSES + dt.timedelta(seconds=NOTICE - 1)).changed

    at_deadline = CLOSES + dt.timedelta(seconds=NOTICE)
    deadline = world.run(at=at_deadline)
    assert deadline.acted == {loan.uuid: True}
    expected = [] if action == "notify" else [(loan.instance_uuid, action)]
    assert world.nova.calls == expected
    assert not world.run(at=CLOSES + dt.timedelta(seconds=NOTICE + 3 * RETRY)).changed
    assert world.nova.calls == expected
    [row] = loans_of(db)
    assert (row.reclaim_attempts, row.reclaim_error) == (1, None)
    assert row.reclaim_acted_at == at_deadline
    if action == "notify":
        # notify enforces nothing: the loan waits for the borrower, the device stays bound.
        assert deadline.returned == []
        assert row.state == "reclaiming"
        assert arq_row(db, arq).state == "Bound"
        return
    # Nova shows the action done: the device is taken back in the same pass.
    assert deadline.returned == [loan.uuid]
    assert (row.state, row.ended_at) == ("closed", at_deadline)
    taken = arq_row(db, arq)
    assert taken.state == "BindFailed"
    assert "Reclaimed by the owner of pool team-a" in taken.error
    assert DONE[action] in taken.error
    assert not handle_in_use(db, device_of(world, loan))
    with db.transaction() as s:  # the instance is kept, so Nova's delete still finds it
        [found] = db_arqs.of_instance(s, loan.instance_uuid, project_id=None)
        assert found.device_rp_uuid is None


def test_an_accepted_action_is_watched_until_it_takes_effect(world):
    arq, loan = world.lend()
    world.run(at=CLOSES)
    world.nova.slow = True
    deadline = CLOSES + dt.timedelta(seconds=NOTICE)
    acted = world.run(at=deadline)
    assert acted.acted == {loan.uuid: True}
    assert acted.returned == []
    assert acted.next_due == deadline + dt.timedelta(seconds=CONFIRM)
    # Still ACTIVE at the next look: nothing is sent again before the retry time.
    look = world.run(at=deadline + dt.timedelta(seconds=CONFIRM))
    assert (look.acted, look.returned) == ({}, [])
    assert world.nova.looks.count(loan.instance_uuid) == 3  # before, after, and now
    assert world.nova.calls == [(loan.instance_uuid, "stop")]
    world.nova.status[loan.instance_uuid] = "SHUTOFF"
    done = world.run(at=deadline + dt.timedelta(seconds=2 * CONFIRM))
    assert done.returned == [loan.uuid]
    assert loans_of(world.db)[0].state == "closed"
    assert arq_row(world.db, arq).state == "BindFailed"


def test_an_accepted_action_without_effect_is_reported_and_sent_again(world):
    _, loan = world.lend()
    world.run(at=CLOSES)
    world.nova.slow = True
    deadline = CLOSES + dt.timedelta(seconds=NOTICE)
    world.run(at=deadline)
    # The retry time comes with the server still ACTIVE: reported on the loan ...
    world.run(at=deadline + dt.timedelta(seconds=RETRY))
    [row] = loans_of(world.db)
    assert row.state == "reclaiming"
    assert "has not taken stop effect" in row.reclaim_error
    # ... and the next pass sends the action again (Nova may have lost it), once.
    again = world.run(at=deadline + dt.timedelta(seconds=RETRY + 1))
    assert again.acted == {loan.uuid: True}
    assert world.nova.calls == [(loan.instance_uuid, "stop")] * 2
    [row] = loans_of(world.db)
    assert (row.reclaim_attempts, row.reclaim_error) == (2, None)


def test_a_server_stopped_already_is_not_stopped_again(world):
    arq, loan = world.lend()
    world.run(at=CLOSES)
    world.nova.status[loan.instance_uuid] = "SHUTOFF"  # the borrower stopped it in its notice
    done = world.run(at=CLOSES + dt.timedelta(seconds=NOTICE))
    assert done.returned == [loan.uuid]
    assert world.nova.calls == []
    assert arq_row(world.db, arq).state == "BindFailed"


def test_an_unreadable_nova_still_gets_the_action_and_the_device_comes_back_later(world):
    _, loan = world.lend()
    world.run(at=CLOSES)
    world.nova.readable = False
    deadline = CLOSES + dt.timedelta(seconds=NOTICE)
    acted = world.run(at=deadline)
    assert acted.acted == {loan.uuid: True}
    assert (acted.returned, loans_of(world.db)[0].state) == ([], "reclaiming")
    world.nova.readable = True
    assert world.run(at=deadline + dt.timedelta(seconds=CONFIRM)).returned == [loan.uuid]


def test_a_conductor_killed_after_nova_accepted_still_gives_the_device_back(world):
    _, loan = world.lend()
    world.run(at=CLOSES)
    world.nova.slow = True
    deadline = CLOSES + dt.timedelta(seconds=NOTICE)
    world.run(at=deadline)
    world.nova.status[loan.instance_uuid] = "SHUTOFF"
    fresh = world.new_engine()  # the first conductor died before its next look
    done = world.run(at=deadline + dt.timedelta(seconds=CONFIRM), engine=fresh)
    assert done.returned == [loan.uuid]
    assert world.nova.calls == [(loan.instance_uuid, "stop")]


def test_owners_first_a_reclaimed_device_is_the_owners_after_the_notice(world):
    """Every device the owner does not use is lent; its own ARQ needs one more: it reclaims
    one by name, binds it once the notice ended and the borrower's server is stopped."""
    world.run(at=OPENS)
    lent = []
    for device_uuid in world.offered():
        [arq] = make_arqs(world.db, BORROWER)
        dev = next(d for d in world.devs if d["device_uuid"] == device_uuid)
        assert bind(world.db, arq, dev["rp_uuid"]) == "Bound"
        lent.append(dev)
    [reserved] = [d for d in world.devs if d not in lent]
    [mine] = make_arqs(world.db, OWNER)
    assert bind(world.db, mine, reserved["rp_uuid"]) == "Bound"
    [more] = make_arqs(world.db, OWNER)
    ctx = RequestContext(project_id=OWNER)
    asked = world.run(at=OPENS + dt.timedelta(minutes=1))
    assert asked.reclaimed == []  # the window is open: nothing is reclaimed unasked
    done = world.cases.reclaim(ctx, world.pool.uuid, [lent[0]["device_uuid"]], project_id=OWNER)
    [wanted] = [x for x in loans_of(world.db) if x.device_uuid == lent[0]["device_uuid"]]
    assert done.reclaiming == (wanted.uuid,)
    assert wanted.state == "reclaiming"
    assert wanted.reclaim_deadline == OPENS + dt.timedelta(minutes=1, seconds=NOTICE)
    # During the notice the borrower still holds it: the owner's bind fails, nothing lost.
    assert bind(world.db, more, lent[0]["rp_uuid"]) == "BindFailed"
    [more] = make_arqs(world.db, OWNER)
    end = wanted.reclaim_deadline
    assert world.run(at=end).returned == [wanted.uuid]
    assert bind(world.db, more, lent[0]["rp_uuid"]) == "Bound"
    # The other loan is untouched: still active in the open window.
    [other] = [x for x in loans_of(world.db) if x.device_uuid == lent[1]["device_uuid"]]
    assert other.state == "active"


def test_a_nova_failure_is_recorded_and_retried_on_a_later_pass(world):
    _, loan = world.lend()
    world.run(at=CLOSES)
    world.nova.ok = False
    deadline = CLOSES + dt.timedelta(seconds=NOTICE)
    assert world.run(at=deadline).acted == {loan.uuid: False}
    [row] = loans_of(world.db)
    assert row.reclaim_attempts == 1
    assert "stop" in row.reclaim_error
    # Not again before the retry interval; the pass names the retry as its next due time.
    soon = world.run(at=deadline + dt.timedelta(seconds=RETRY - 1))
    assert soon.acted == {}
    assert soon.next_due == deadline + dt.timedelta(seconds=RETRY)
    world.nova.ok = True
    assert world.run(at=deadline + dt.timedelta(seconds=RETRY)).acted == {loan.uuid: True}
    assert len(world.nova.calls) == 2
    [row] = loans_of(world.db)
    assert (row.reclaim_attempts, row.reclaim_error) == (2, None)


def test_a_restarted_conductor_acts_at_the_deadline(world):
    _, loan = world.lend()
    world.run(at=CLOSES)
    # The conductor dies mid-notice; a new engine on the same database takes over.
    fresh = world.new_engine()
    mid = world.run(at=CLOSES + dt.timedelta(seconds=60), engine=fresh)
    assert mid.acted == {}
    assert mid.announced == [loan.uuid]
    done = world.run(at=CLOSES + dt.timedelta(seconds=NOTICE), engine=fresh)
    assert done.acted == {loan.uuid: True}
    assert world.nova.calls == [(loan.instance_uuid, "stop")]
    # The old engine, were it alive, would not act a second time.
    assert world.run(engine=world.engine).acted == {}


def test_an_action_claimed_but_never_recorded_is_retried(world):
    _, loan = world.lend()
    world.run(at=CLOSES)
    deadline = CLOSES + dt.timedelta(seconds=NOTICE)
    with world.db.transaction() as s:  # a conductor died during its Nova call
        s.execute(
            sa.update(models.Loan)
            .where(models.Loan.uuid == loan.uuid)
            .values(reclaim_acted_at=deadline, reclaim_attempts=1, reclaim_error="pending")
        )
    assert world.run(at=deadline).acted == {}
    assert world.run(at=deadline + dt.timedelta(seconds=RETRY)).acted == {loan.uuid: True}


def test_the_borrower_leaving_during_the_notice_gives_the_device_back(world):
    arq, _loan = world.lend()
    world.run(at=CLOSES)
    with world.db.transaction() as s:  # the bind rules close the loan with the delete
        found, _ = db_arqs.find(s, [arq], project_id=None)
        arq_cases.delete(s, found, service=True)
    [row] = loans_of(world.db)
    assert row.state == "closed"
    after = world.run(at=CLOSES + dt.timedelta(seconds=NOTICE))
    assert after.acted == {}
    assert world.nova.calls == []
    assert world.offered() == []  # back to the owner: not offered while the window is shut


def test_the_engine_closes_a_loan_whose_arq_vanished(world):
    arq, loan = world.lend()
    with world.db.transaction() as s:  # gone without the bind rules (e.g. a manual cleanup)
        s.execute(sa.delete(models.AcceleratorRequest).where(models.AcceleratorRequest.uuid == arq))
    done = world.run()
    assert done.closed == [loan.uuid]
    [row] = loans_of(world.db)
    assert row.state == "closed"
    assert row.ended_at == OPENS
    # The device is idle and the window open: offered again, the reserve still kept.
    assert loan.device_uuid in world.offered()
    assert len(world.offered()) == 2


def test_a_deleted_pool_has_its_offers_synced_away(world):
    offered = world.run(at=OPENS).offered
    world.sync.synced.clear()
    world.cases.delete(RequestContext(project_id=OWNER), world.pool.uuid, project_id=OWNER)
    gone = world.run()
    assert not gone.found
    assert sorted(world.sync.synced) == offered
    assert world.engine.pool_uuids() == []


def test_the_runner_passes_on_events_when_due_and_on_the_sweep(world):
    runner = LendingRunner(world.engine, sweep_seconds=RETRY, clock=world.clock)
    runner.step()  # the first sweep: the pool is due at the window's opening
    assert world.offered() == []
    assert runner.seconds_to_next() == RETRY
    world.clock.now = OPENS - dt.timedelta(seconds=1)
    runner.step()
    world.clock.now = OPENS
    assert runner.seconds_to_next() == pytest.approx(0.05)  # due now
    runner.step()
    assert len(world.offered()) == 2
    # pool_changed wakes a pass at once: a reclaim's withdrawn offer is made again (idle,
    # the window open) and synced.
    with world.db.transaction() as s:
        lending_devices.clear_offers(s, world.pool.id)
    world.sync.synced.clear()
    runner.notify(world.pool.uuid)
    runner.step()
    assert len(world.sync.synced) == 2


def test_a_notify_pool_switched_to_stop_enforces_loans_past_their_deadline(db, clock):
    world = World(db, clock, on_reclaim="notify")
    _, loan = world.lend()
    world.run(at=CLOSES)
    deadline = CLOSES + dt.timedelta(seconds=NOTICE)
    assert world.run(at=deadline).returned == []
    ctx = RequestContext(project_id=OWNER)
    world.cases.update(ctx, world.pool.uuid, {"on_reclaim": "stop"}, project_id=OWNER)
    world.run(at=deadline + dt.timedelta(seconds=RETRY))  # the notify attempt counts as failed
    done = world.run(at=deadline + dt.timedelta(seconds=RETRY + 1))
    assert done.returned == [loan.uuid]
    assert world.nova.calls == [(loan.instance_uuid, "stop")]
