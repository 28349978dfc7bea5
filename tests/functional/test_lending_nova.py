"""The lending engine's reclaim through the real ``NovaClient`` (keystoneauth1) against the
recording Nova of ``tests/nova_server.py`` (issue 17): each ``on_reclaim`` action's request at
the deadline, the server read back until it took effect, then the device taken back from the
borrower's ARQ and the loan closed; Nova failing, refusing and being slow is retried and
reported, and nothing is lost. Fake clocks; SQLite (the SQL is the engine tests')."""

from __future__ import annotations

import datetime as dt

import pytest

from cyborg_lite.nova import NovaClient
from tests import nova_server, placement_server
from tests.functional.test_lending_engine import (
    CLOSES,
    MONDAY,
    NOTICE,
    RETRY,
    Clock,
    World,
    handle_in_use,
)
from tests.functional.test_lending_usecases import arq_row, loans_of

pytestmark = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
DEADLINE = CLOSES + dt.timedelta(seconds=NOTICE)
REQUESTS = {"stop": "os-stop", "shelve": "shelve", "delete": "delete"}


@pytest.fixture
def clock():
    return Clock(MONDAY)


@pytest.fixture
def nova():
    with nova_server.running_nova() as recorder:
        yield recorder


def lent_through_nova(conf, db, clock, nova, on_reclaim):
    """A world whose engine talks to the recording Nova, and a loan whose server runs."""
    placement_server.point_at(conf, nova.url, group="nova")
    client = NovaClient.from_conf(conf)
    assert client is not None
    world = World(db, clock, on_reclaim=on_reclaim)
    world.nova = client
    world.engine = world.new_engine()
    arq, loan = world.lend()
    nova.servers[loan.instance_uuid] = "ACTIVE"
    world.run(at=CLOSES)
    return world, arq, loan


@pytest.mark.parametrize("action", ["stop", "shelve", "delete"])
def test_each_action_at_the_deadline_gives_the_device_back(conf, db, clock, nova, action):
    world, arq, loan = lent_through_nova(conf, db, clock, nova, action)
    assert nova.actions == []  # nothing during the notice
    done = world.run(at=DEADLINE)
    assert nova.actions == [(loan.instance_uuid, REQUESTS[action])]
    assert done.returned == [loan.uuid]
    [row] = loans_of(db)
    assert (row.state, row.ended_at, row.reclaim_error) == ("closed", DEADLINE, None)
    taken = arq_row(db, arq)
    assert taken.state == "BindFailed"
    assert "Reclaimed by the owner of pool team-a" in taken.error
    dev = next(d for d in world.devs if d["device_uuid"] == loan.device_uuid)
    assert not handle_in_use(db, dev)
    assert not world.run(at=DEADLINE + dt.timedelta(seconds=3 * RETRY)).changed
    assert len(nova.actions) == 1


def test_nova_unavailable_is_reported_and_retried(conf, db, clock, nova):
    world, _, loan = lent_through_nova(conf, db, clock, nova, "stop")
    nova.fail_actions = 1
    assert world.run(at=DEADLINE).acted == {loan.uuid: False}
    [row] = loans_of(db)
    assert row.state == "reclaiming"
    assert "Nova did not accept stop" in row.reclaim_error
    done = world.run(at=DEADLINE + dt.timedelta(seconds=RETRY))
    assert done.returned == [loan.uuid]
    assert nova.actions == [(loan.instance_uuid, "os-stop")] * 2


def test_a_server_the_borrower_stopped_is_taken_back_without_a_call(conf, db, clock, nova):
    world, _, loan = lent_through_nova(conf, db, clock, nova, "stop")
    nova.servers[loan.instance_uuid] = "SHUTOFF"  # Nova would answer os-stop 409 now
    assert world.run(at=DEADLINE).returned == [loan.uuid]
    assert nova.actions == []


def test_a_server_deleted_during_the_notice_closes_the_loan(conf, db, clock, nova):
    # The borrower deleted its server, but Nova's ARQ cleanup never reached cyborg-lite.
    world, _, loan = lent_through_nova(conf, db, clock, nova, "shelve")
    del nova.servers[loan.instance_uuid]
    assert world.run(at=DEADLINE).returned == [loan.uuid]
    assert nova.actions == []


def test_a_nova_that_accepts_but_does_nothing_is_asked_again(conf, db, clock, nova):
    world, _, loan = lent_through_nova(conf, db, clock, nova, "shelve")
    nova.lazy = True
    assert world.run(at=DEADLINE).returned == []
    world.run(at=DEADLINE + dt.timedelta(seconds=RETRY))
    [row] = loans_of(db)
    assert "has not taken shelve effect" in row.reclaim_error
    nova.lazy = False
    done = world.run(at=DEADLINE + dt.timedelta(seconds=RETRY + 1))
    assert done.returned == [loan.uuid]
    assert nova.actions == [(loan.instance_uuid, "shelve")] * 2
    assert nova.servers[loan.instance_uuid] == "SHELVED_OFFLOADED"
