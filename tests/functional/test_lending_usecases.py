"""Lending's use cases on every backend (issue 17): pools created, changed, deleted and
reclaimed through ``usecases.pools.Pools`` with a recording conductor, and (next) the bind rules of
pooled devices (``usecases.arqs``): the owner binds as before, a borrower only an offered
device of a pool that lends to it, which opens a loan; unbind and delete close it."""

from __future__ import annotations

import datetime as dt

import pytest

from cyborg_lite import exception
from cyborg_lite.context import RequestContext
from cyborg_lite.usecases import pools as pool_cases
from tests import seed

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
