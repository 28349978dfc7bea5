"""Lending's use cases on every backend (issue 17): pools created, changed, deleted and
reclaimed through ``usecases.pools.Pools`` with a recording conductor, and the bind rules of
pooled devices (``usecases.arqs``): the owner binds as before, a borrower only an offered
device of a pool that lends to it, which opens a loan; unbind and delete close it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from cyborg_lite import exception
from cyborg_lite.arqs import states
from cyborg_lite.conductor.manager import ConductorManager
from cyborg_lite.context import RequestContext
from cyborg_lite.db import arqs as db_arqs
from cyborg_lite.db import device_profiles as db_profiles
from cyborg_lite.db import lending_devices, models
from cyborg_lite.db import loans as db_loans
from cyborg_lite.db import pools as db_pools
from cyborg_lite.usecases import arqs as arq_cases
from cyborg_lite.usecases import pools as pool_cases
from tests import seed
from tests.local_conductor import LocalConductor

NOW = dt.datetime(2026, 3, 2, 12, 0, 0)  # a Monday
OWNER, BORROWER, STRANGER = "owner-p", "borrower-p", "stranger-p"


class Recorder:
    """A conductor that records the casts (``usecases.ports.Conductor``)."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, str]] = []

    def rollout_changed(self, ctx, rollout_uuid):
        self.casts.append(("rollout_changed", rollout_uuid))

    def device_changed(self, ctx, device_uuid):
        self.casts.append(("device_changed", device_uuid))

    def arqs_bound(self, ctx, bound):
        self.casts.append(("arqs_bound", ",".join(sorted(bound))))

    def pool_changed(self, ctx, pool_uuid):
        self.casts.append(("pool_changed", pool_uuid))


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def cases(db, recorder):
    return pool_cases.Pools(db, recorder, clock=lambda: NOW)


@pytest.fixture
def ctx():
    return RequestContext(project_id=OWNER)


def gpus(db, n, hostname="compute1"):
    return [seed.device(db, hostname=hostname, pci=f"0000:{20 + i:02x}:00.0") for i in range(n)]


BODY = {
    "name": "team-a",
    "selector": {"hosts": ["compute1"]},
    "borrower_project_ids": [BORROWER],
    "notice_seconds": 300,
}


def test_create_for_the_callers_project_or_the_admins_choice(db, cases, recorder, ctx):
    made = gpus(db, 2)
    shown = cases.create(ctx, BODY, project_id=OWNER)
    assert shown.pool.owner_project_id == OWNER
    assert shown.device_uuids == tuple(sorted(d["device_uuid"] for d in made))
    assert not shown.open_now
    assert recorder.casts == [("pool_changed", shown.pool.uuid)]
    with pytest.raises(exception.Forbidden):
        cases.create(ctx, {**BODY, "name": "b", "owner_project_id": "x"}, project_id=OWNER)
    admins = cases.create(
        ctx,
        {**BODY, "name": "b", "owner_project_id": "x", "selector": {"hosts": ["none"]}},
        project_id=None,
    )
    assert admins.pool.owner_project_id == "x"
    assert [v.pool.uuid for v in cases.list({}, project_id="x")] == [admins.pool.uuid]


@pytest.mark.parametrize(
    ("selector", "field"),
    [
        ({}, "empty"),
        ({"current_versions": ["1"], "hosts": ["a"]}, "current_versions"),
        (None, "selector"),
    ],
)
def test_create_refuses_a_selector_that_is_not_one(db, cases, ctx, selector, field):
    with pytest.raises(exception.Invalid, match=field):
        cases.create(ctx, {**BODY, "selector": selector}, project_id=OWNER)


def test_create_conflicts_name_the_device_and_the_pool(db, cases, ctx):
    [dev] = gpus(db, 1)
    first = cases.create(ctx, BODY, project_id=OWNER)
    body = {**BODY, "name": "other", "selector": {"device_uuids": [dev["device_uuid"]]}}
    with pytest.raises(exception.Conflict) as err:
        cases.create(ctx, body, project_id=OWNER)
    assert dev["device_uuid"] in str(err.value)
    assert first.pool.uuid in str(err.value)


def test_update_re_resolves_membership(db, cases, recorder, ctx):
    gpus(db, 1)
    [moved] = gpus(db, 1, hostname="compute2")
    shown = cases.create(ctx, BODY, project_id=OWNER)
    changed = cases.update(
        ctx,
        shown.pool.uuid,
        {"selector": {"hosts": ["compute2"]}, "min_idle_seconds": 60},
        project_id=OWNER,
    )
    assert changed.device_uuids == (moved["device_uuid"],)
    assert changed.rules.min_idle_seconds == 60
    assert changed.pool.generation == shown.pool.generation + 1
    assert recorder.casts[-1] == ("pool_changed", shown.pool.uuid)
    with pytest.raises(exception.NotFound):
        cases.update(ctx, shown.pool.uuid, {"notice_seconds": 1}, project_id=STRANGER)


def test_windows_validated_in_the_pools_zone_and_open_now(db, cases, ctx):
    shown = cases.create(ctx, {**BODY, "timezone": "Europe/Berlin"}, project_id=OWNER)
    past = {"starts_at": "2026-03-01T19:00:00+01:00", "ends_at": "2026-03-01T20:00:00+01:00"}
    with pytest.raises(exception.Invalid, match="ends_at"):
        cases.add_window(ctx, shown.pool.uuid, past, project_id=OWNER)
    with pytest.raises(exception.Invalid, match="days"):
        cases.add_window(
            ctx,
            shown.pool.uuid,
            {"days": ["xyz"], "start": "01:00", "end": "02:00"},
            project_id=OWNER,
        )
    # 12:00 UTC is 13:00 in Berlin on a Monday: open from 12:30 to 14:00 local.
    window = cases.add_window(
        ctx, shown.pool.uuid, {"days": ["mon"], "start": "12:30", "end": "14:00"}, project_id=OWNER
    )
    assert cases.get(shown.pool.uuid, project_id=OWNER).open_now
    cases.remove_window(ctx, shown.pool.uuid, window.uuid, project_id=OWNER)
    assert not cases.get(shown.pool.uuid, project_id=OWNER).windows
    with pytest.raises(exception.NotFound):
        cases.remove_window(ctx, shown.pool.uuid, window.uuid, project_id=OWNER)


# -- binds ---------------------------------------------------------------------------------


def make_arqs(db, project_id, count=1):
    with db.transaction() as s:
        groups = [{"resources:PGPU": str(count)}]
        profile = db_profiles.create_profile(s, name=f"p-{uuid.uuid4().hex[:8]}", groups=groups)
        return [
            v.arq.uuid
            for v in db_arqs.create_for_profile(s, profile, groups, project_id=project_id)
        ]


def bind(db, arq_uuid, rp_uuid, project_id=None):
    target = states.BindTarget("compute1", rp_uuid, str(uuid.uuid4()), project_id)
    with db.transaction() as s:
        return arq_cases.bind(s, {arq_uuid: target}, project_id=None)[arq_uuid]


def arq_row(db, arq_uuid):
    with db.transaction() as s:
        return s.execute(
            sa.select(models.AcceleratorRequest.state, models.AcceleratorRequest.error).where(
                models.AcceleratorRequest.uuid == arq_uuid
            )
        ).one()


def loans_of(db, **filters):
    with db.transaction() as s:
        return db_loans.list_loans(s, filters)


@pytest.fixture
def pool(db, cases, ctx):
    """A pool of two GPUs lending to BORROWER, the first one offered."""
    devs = gpus(db, 2)
    shown = cases.create(ctx, BODY, project_id=OWNER)
    with db.transaction() as s:
        lending_devices.set_offered(s, shown.pool.id, [devs[0]["device_uuid"]])
    return shown, devs


def test_a_borrowers_bind_of_an_offered_device_opens_a_loan(db, pool):
    shown, devs = pool
    [arq] = make_arqs(db, BORROWER)
    assert bind(db, arq, devs[0]["rp_uuid"]) == states.BOUND
    [loan] = loans_of(db)
    assert (loan.state, loan.arq_uuid, loan.device_uuid) == ("active", arq, devs[0]["device_uuid"])
    assert (loan.pool_uuid, loan.owner_project_id) == (shown.pool.uuid, OWNER)
    assert loan.borrower_project_id == BORROWER
    assert loan.instance_uuid is not None


def test_a_borrowers_bind_of_a_device_not_offered_fails_with_the_reason(db, pool):
    _, devs = pool
    [arq] = make_arqs(db, BORROWER)
    assert bind(db, arq, devs[1]["rp_uuid"]) == states.BIND_FAILED
    row = arq_row(db, arq)
    assert row.state == states.BIND_FAILED
    assert devs[1]["device_uuid"] in row.error
    assert "not offered" in row.error
    assert loans_of(db) == []
    with db.transaction() as s:  # the handle stays free
        assert not s.scalar(
            sa.select(models.AttachHandle.in_use).where(
                models.AttachHandle.deployable_id == devs[1]["deployable_id"]
            )
        )


def test_a_project_not_among_the_borrowers_fails_even_on_an_offered_device(db, pool):
    _, devs = pool
    [arq] = make_arqs(db, STRANGER)
    assert bind(db, arq, devs[0]["rp_uuid"]) == states.BIND_FAILED
    assert f"Project {STRANGER} may not borrow from pool team-a" in arq_row(db, arq).error
    assert loans_of(db) == []


def test_the_owner_binds_as_today_offered_or_not(db, pool):
    _, devs = pool
    [mine] = make_arqs(db, OWNER)
    assert bind(db, mine, devs[1]["rp_uuid"]) == states.BOUND
    # An admin-made ARQ bound for the owner's instance (the target names the project).
    [admins] = make_arqs(db, None)
    assert bind(db, admins, devs[0]["rp_uuid"], project_id=OWNER) == states.BOUND
    assert loans_of(db) == []


def test_the_loan_closes_on_unbind_with_its_energy(db, pool):
    _, devs = pool
    [arq] = make_arqs(db, BORROWER)
    bind(db, arq, devs[0]["rp_uuid"])
    [loan] = loans_of(db)
    with db.transaction() as s:
        s.add(
            models.UsageRollup(
                device_id=devs[0]["device_id"],
                resolution_seconds=60,
                start=loan.started_at,
                samples=1,
                power_watts=3600.0,
            )
        )
    with db.transaction() as s:
        arq_cases.unbind(s, [arq], project_id=None)
    [closed] = loans_of(db)
    assert closed.state == "closed"
    assert closed.ended_at is not None
    seconds = (closed.ended_at - closed.started_at).total_seconds()
    assert closed.energy_kwh == pytest.approx(min(seconds, 60) * 3600.0 / 3_600_000)
    assert arq_row(db, arq).state == states.UNBOUND


def test_the_loan_closes_when_the_arq_is_deleted(db, pool):
    _, devs = pool
    [arq] = make_arqs(db, BORROWER)
    bind(db, arq, devs[0]["rp_uuid"])
    with db.transaction() as s:
        found, _ = db_arqs.find(s, [arq], project_id=None)
        arq_cases.delete(s, found, service=True)
    [closed] = loans_of(db)
    assert closed.state == "closed"
    assert closed.energy_kwh is None  # no usage known
    with db.transaction() as s:
        assert db_loans.to_close(s) == []


def test_reclaim_withdraws_offers_and_moves_loans_with_the_deadline(db, cases, recorder, ctx, pool):
    shown, devs = pool
    [arq] = make_arqs(db, BORROWER)
    bind(db, arq, devs[0]["rp_uuid"])
    with db.transaction() as s:  # the engine would now offer the second device
        lending_devices.set_offered(s, shown.pool.id, [devs[1]["device_uuid"]])
    with pytest.raises(exception.Invalid, match="no-such"):
        cases.reclaim(ctx, shown.pool.uuid, ["no-such"], project_id=OWNER)
    with pytest.raises(exception.NotFound):
        cases.reclaim(ctx, shown.pool.uuid, None, project_id=STRANGER)
    done = cases.reclaim(ctx, shown.pool.uuid, None, project_id=OWNER)
    assert done.withdrawn == (devs[1]["device_uuid"],)
    assert done.deadline == NOW + dt.timedelta(seconds=300)
    [loan] = loans_of(db)
    assert done.reclaiming == (loan.uuid,)
    assert (loan.state, loan.reclaim_deadline) == ("reclaiming", done.deadline)
    assert recorder.casts[-1] == ("pool_changed", shown.pool.uuid)
    with db.transaction() as s:
        assert lending_devices.offered(s, shown.pool.id) == []
    # A second reclaim changes nothing; the borrower's bind of a withdrawn offer fails.
    again = cases.reclaim(ctx, shown.pool.uuid, [devs[0]["device_uuid"]], project_id=OWNER)
    assert (again.withdrawn, again.reclaiming) == ((), ())
    [late] = make_arqs(db, BORROWER)
    assert bind(db, late, devs[1]["rp_uuid"]) == states.BIND_FAILED


def test_delete_is_refused_while_a_loan_is_open(db, cases, ctx, pool):
    shown, devs = pool
    [arq] = make_arqs(db, BORROWER)
    bind(db, arq, devs[0]["rp_uuid"])
    [loan] = loans_of(db)
    with pytest.raises(exception.Conflict, match=loan.uuid):
        cases.delete(ctx, shown.pool.uuid, project_id=OWNER)
    with db.transaction() as s:
        arq_cases.unbind(s, [arq], project_id=None)
    cases.delete(ctx, shown.pool.uuid, project_id=OWNER)
    with db.transaction() as s, pytest.raises(exception.NotFound):
        db_pools.get(s, shown.pool.uuid)


def test_pool_changed_reaches_the_conductors_lending_hook_after_the_commit(db, ctx):
    seen: list[str] = []
    local = LocalConductor(ConductorManager(db, None, lending=seen.append))
    shown = pool_cases.Pools(db, local, clock=lambda: NOW).create(ctx, BODY, project_id=OWNER)
    # LocalConductor fails a cast sent with the transaction still open.
    assert local.casts == [("pool_changed", {"pool_uuid": shown.pool.uuid})]
    assert seen == [shown.pool.uuid]


def test_revoke_takes_the_device_back_keeping_the_instance(db, pool):
    _, devs = pool
    [arq] = make_arqs(db, BORROWER)
    bind(db, arq, devs[0]["rp_uuid"])
    [loan] = loans_of(db)
    with db.transaction() as s:
        closed = arq_cases.revoke(s, arq, "taken back", now=NOW)
    assert closed == [loan.uuid]
    row = arq_row(db, arq)
    assert (row.state, row.error) == (states.BIND_FAILED, "taken back")
    with db.transaction() as s:
        [found] = db_arqs.of_instance(s, loan.instance_uuid, project_id=None)
        assert (found.hostname, found.device_rp_uuid, found.attach_handle_id) == (None, None, None)
    # The owner binds the device now; a second revoke changes nothing.
    [mine] = make_arqs(db, OWNER)
    assert bind(db, mine, devs[0]["rp_uuid"]) == states.BOUND
    with db.transaction() as s:
        assert arq_cases.revoke(s, arq, "again", now=NOW) == []
    assert arq_row(db, arq).error == "taken back"
