"""The lending story over the real app and every database (microversion 2.7): pools created,
listed, shown, changed and deleted (a device in at most one pool: 409 naming it and the other
pool), windows and ``open_now``, reclaim (202 with the loans now reclaiming), loans with their
filters and the account, who sees what per persona, 406 below 2.7, and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from cyborg_lite.db import loans as db_loans
from tests import personas, seed
from tests.functional.envelope import message
from tests.functional.test_openapi import check_response

V27 = "2.7"
STRANGER_PROJECT = "cccccccccccccccccccccccccccccccc"
ADMIN = personas.headers("admin", version=V27)
OWNER = personas.headers("member", personas.PROJECT_A, version=V27)
OWNER_READER = personas.headers("reader", personas.PROJECT_A, version=V27)
BORROWER = personas.headers("member", personas.PROJECT_B, version=V27)
STRANGER = personas.headers("member", STRANGER_PROJECT, version=V27)
POOLS = "/v2/accelerator_pools"


def naive_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@pytest.fixture
def devices(db):
    """Three H100s on node1 and one on node2."""
    return [
        seed.device(db, hostname="node1", pci="0000:01:00.0"),
        seed.device(db, hostname="node1", pci="0000:02:00.0"),
        seed.device(db, hostname="node1", pci="0000:03:00.0"),
        seed.device(db, hostname="node2", pci="0000:04:00.0"),
    ]


def pool_body(**changes):
    body = {
        "name": "team-a",
        "owner_project_id": personas.PROJECT_A,
        "selector": {"hosts": ["node1"]},
        "borrower_project_ids": [personas.PROJECT_B],
        "reserve": {"count": 1},
        "min_idle_seconds": 600,
        "notice_seconds": 300,
        "on_reclaim": "shelve",
        "timezone": "Europe/Berlin",
    }
    body.update(changes)
    return body


@pytest.fixture
def pool(client, devices):
    got = client.simulate_post(POOLS, json=pool_body(), headers=ADMIN)
    assert got.status_code == 201, got.text
    return got.json


def open_loan(db, pool, device_uuid, *, started_at=None, state=None, ended_at=None):
    """A loan of ``device_uuid`` to project B, as a borrower's bind opens it."""
    with db.transaction() as s:
        loan = db_loans.open_loan(
            s,
            pool_uuid=pool["uuid"],
            device_uuid=device_uuid,
            owner_project_id=personas.PROJECT_A,
            borrower_project_id=personas.PROJECT_B,
            arq_uuid=str(uuid.uuid4()),
            instance_uuid=str(uuid.uuid4()),
            started_at=started_at or naive_now() - dt.timedelta(hours=1),
        )
        if state is not None:
            loan.state = state
            loan.ended_at = ended_at
            loan.energy_kwh = 0.5 if ended_at else None
        return loan.uuid


def test_create_shows_every_field_its_devices_and_trait(client, devices, pool):
    second = client.simulate_post(
        POOLS, json=pool_body(name="two", selector={"hosts": ["node2"]}), headers=ADMIN
    )
    assert second.status_code == 201
    check_response(POOLS, "post", second)
    node1 = sorted(d["device_uuid"] for d in devices[:3])
    assert pool["device_uuids"] == node1
    assert pool["device_count"] == 3
    assert pool["trait"] == "CUSTOM_CYBORG_POOL_TEAM_A"
    assert pool["owner_project_id"] == personas.PROJECT_A
    assert pool["reserve"] == {"count": 1}
    assert pool["on_reclaim"] == "shelve"
    assert pool["timezone"] == "Europe/Berlin"
    assert pool["windows"] == []
    assert pool["open_now"] is False
    assert pool["links"][0]["href"].endswith(f"{POOLS}/{pool['uuid']}")
    shown = client.simulate_get(f"{POOLS}/{pool['uuid']}", headers=ADMIN)
    assert shown.status_code == 200
    check_response(POOLS + "/{uuid}", "get", shown)
    assert shown.json == pool


def test_a_device_of_another_pool_is_a_409_naming_it_and_the_pool(client, devices, pool):
    taken = devices[0]["device_uuid"]
    got = client.simulate_post(
        POOLS,
        json=pool_body(name="other", selector={"device_uuids": [taken]}),
        headers=ADMIN,
    )
    assert got.status_code == 409
    assert taken in message(got)
    assert "team-a" in message(got)
    same_name = client.simulate_post(
        POOLS, json=pool_body(selector={"hosts": ["node2"]}), headers=ADMIN
    )
    assert same_name.status_code == 409
    assert "team-a" in message(same_name)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"on_reclaim": "explode"}, "on_reclaim"),
        ({"reserve": {"share": 1.5}}, "share"),
        ({"name": "bad name"}, "name"),
        ({"selector": {}}, "selector"),
        ({"notice_seconds": -1}, "notice_seconds"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_pool_bodies_are_400s_naming_the_field(client, devices, changes, named):
    got = client.simulate_post(POOLS, json=pool_body(**changes), headers=ADMIN)
    assert got.status_code == 400
    assert named in message(got)


def test_list_filters_and_pages(client, devices, pool):
    other = client.simulate_post(
        POOLS,
        json=pool_body(
            name="team-b", owner_project_id=personas.PROJECT_B, selector={"hosts": ["node2"]}
        ),
        headers=ADMIN,
    )
    assert other.status_code == 201
    every = client.simulate_get(POOLS, headers=ADMIN)
    assert every.status_code == 200
    check_response(POOLS, "get", every)
    assert [p["name"] for p in every.json["accelerator_pools"]] == ["team-a", "team-b"]
    mine = client.simulate_get(
        POOLS, params={"owner_project_id": personas.PROJECT_B}, headers=ADMIN
    )
    assert [p["name"] for p in mine.json["accelerator_pools"]] == ["team-b"]
    named = client.simulate_get(POOLS, params={"name": "team-a"}, headers=ADMIN)
    assert [p["uuid"] for p in named.json["accelerator_pools"]] == [pool["uuid"]]
    page = client.simulate_get(POOLS, params={"limit": "1"}, headers=ADMIN)
    assert len(page.json["accelerator_pools"]) == 1
    assert "marker=" in page.json["accelerator_pools_links"][0]["href"]
    bad = client.simulate_get(POOLS, params={"owner": "x"}, headers=ADMIN)
    assert bad.status_code == 400
    assert "owner" in message(bad)


def test_patch_changes_fields_and_membership_delete_is_204(client, devices, pool):
    path = f"{POOLS}/{pool['uuid']}"
    got = client.simulate_patch(
        path, json={"notice_seconds": 60, "selector": {"hosts": ["node2"]}}, headers=OWNER
    )
    assert got.status_code == 200, got.text
    check_response(POOLS + "/{uuid}", "patch", got)
    assert got.json["notice_seconds"] == 60
    assert got.json["device_uuids"] == [devices[3]["device_uuid"]]
    assert got.json["name"] == "team-a"
    bad = client.simulate_patch(path, json={"timezone": "Nowhere/Else"}, headers=OWNER)
    assert bad.status_code == 400
    assert "timezone" in message(bad)
    gone = client.simulate_delete(path, headers=OWNER)
    assert gone.status_code == 204
    assert client.simulate_get(path, headers=ADMIN).status_code == 404


def test_delete_with_an_open_loan_is_a_409(client, db, devices, pool):
    loan = open_loan(db, pool, devices[0]["device_uuid"])
    got = client.simulate_delete(f"{POOLS}/{pool['uuid']}", headers=ADMIN)
    assert got.status_code == 409
    assert loan in message(got)


def test_windows_added_removed_and_open_now(client, devices, pool):
    path = f"{POOLS}/{pool['uuid']}"
    weekly = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "19:00", "end": "07:00"}
    got = client.simulate_post(f"{path}/windows", json=weekly, headers=OWNER)
    assert got.status_code == 201, got.text
    check_response(POOLS + "/{uuid}/windows", "post", got)
    assert got.json == {"uuid": got.json["uuid"], "kind": "weekly", **weekly}
    now = dt.datetime.now(dt.UTC)
    once = {
        "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
    }
    one_off = client.simulate_post(f"{path}/windows", json=once, headers=OWNER)
    assert one_off.status_code == 201, one_off.text
    assert one_off.json["kind"] == "once"
    shown = client.simulate_get(path, headers=OWNER).json
    assert [w["uuid"] for w in shown["windows"]] == [got.json["uuid"], one_off.json["uuid"]]
    assert shown["open_now"] is True
    removed = client.simulate_delete(f"{path}/windows/{one_off.json['uuid']}", headers=OWNER)
    assert removed.status_code == 204
    again = client.simulate_delete(f"{path}/windows/{one_off.json['uuid']}", headers=OWNER)
    assert again.status_code == 404
    assert [w["uuid"] for w in client.simulate_get(path, headers=OWNER).json["windows"]] == [
        got.json["uuid"]
    ]


@pytest.mark.parametrize(
    ("window", "named"),
    [
        ({"days": ["mon", "funday"], "start": "19:00", "end": "07:00"}, "days"),
        ({"days": ["mon"], "start": "25:00", "end": "07:00"}, "start"),
        ({"days": ["mon"], "start": "07:00", "end": "07:00"}, "end"),
        ({"days": ["mon"], "start": "07:00"}, "end"),
        (
            {"starts_at": "2030-01-02T10:00:00+01:00", "ends_at": "2030-01-02T09:00:00+01:00"},
            "ends_at",
        ),
        ({"starts_at": "2030-01-02T10:00:00", "ends_at": "2030-01-03T10:00:00Z"}, "starts_at"),
        ({"starts_at": "soon", "ends_at": "2030-01-03T10:00:00Z"}, "starts_at"),
        ({"starts_at": "2001-01-02T10:00:00Z", "ends_at": "2001-01-03T10:00:00Z"}, "ends_at"),
        ({"days": ["mon"], "start": "07:00", "end": "09:00", "ends_at": "x"}, "ends_at"),
    ],
)
def test_bad_windows_are_400s_naming_the_field(client, devices, pool, window, named):
    got = client.simulate_post(f"{POOLS}/{pool['uuid']}/windows", json=window, headers=OWNER)
    assert got.status_code == 400, got.text
    assert named in message(got)


def test_reclaim_is_202_with_the_loans_now_reclaiming(client, db, devices, pool):
    first = open_loan(db, pool, devices[0]["device_uuid"])
    second = open_loan(db, pool, devices[1]["device_uuid"])
    action = f"{POOLS}/{pool['uuid']}/action"
    got = client.simulate_post(
        action,
        json={"action": "reclaim", "device_uuids": [devices[0]["device_uuid"]]},
        headers=OWNER,
    )
    assert got.status_code == 202, got.text
    check_response(POOLS + "/{uuid}/action", "post", got)
    assert [loan["uuid"] for loan in got.json["loans"]] == [first]
    assert got.json["loans"][0]["state"] == "reclaiming"
    assert got.json["loans"][0]["reclaim_deadline"] == got.json["reclaim_deadline"]
    rest = client.simulate_post(action, json={"action": "reclaim"}, headers=OWNER)
    assert rest.status_code == 202
    assert [loan["uuid"] for loan in rest.json["loans"]] == [second]
    stranger_device = client.simulate_post(
        action,
        json={"action": "reclaim", "device_uuids": [devices[3]["device_uuid"]]},
        headers=OWNER,
    )
    assert stranger_device.status_code == 400
    assert devices[3]["device_uuid"] in message(stranger_device)
    bad = client.simulate_post(action, json={"action": "steal"}, headers=OWNER)
    assert bad.status_code == 400
    assert "action" in message(bad)


def test_loans_list_filters_show_and_exact_keys(client, db, devices, pool):
    now = naive_now()
    active = open_loan(db, pool, devices[0]["device_uuid"], started_at=now - dt.timedelta(hours=2))
    closed = open_loan(
        db,
        pool,
        devices[1]["device_uuid"],
        started_at=now - dt.timedelta(days=3, hours=1),
        state="closed",
        ended_at=now - dt.timedelta(days=3),
    )
    every = client.simulate_get("/v2/loans", headers=ADMIN)
    assert every.status_code == 200
    check_response("/v2/loans", "get", every)
    assert [loan["uuid"] for loan in every.json["loans"]] == [active, closed]

    def uuids(**params):
        got = client.simulate_get("/v2/loans", params=params, headers=ADMIN)
        assert got.status_code == 200, got.text
        return [loan["uuid"] for loan in got.json["loans"]]

    assert uuids(state="closed") == [closed]
    assert uuids(pool_uuid=pool["uuid"]) == [active, closed]
    assert uuids(pool_uuid=str(uuid.uuid4())) == []
    assert uuids(borrower_project_id=personas.PROJECT_B) == [active, closed]
    assert uuids(owner_project_id=personas.PROJECT_B) == []
    assert uuids(since=(now - dt.timedelta(days=1)).isoformat() + "Z") == [active]
    assert uuids(until=(now - dt.timedelta(days=1)).isoformat() + "Z") == [closed]
    shown = client.simulate_get(f"/v2/loans/{closed}", headers=ADMIN)
    assert shown.status_code == 200
    check_response("/v2/loans/{uuid}", "get", shown)
    assert set(shown.json) == {
        "uuid", "pool_uuid", "device_uuid", "owner_project_id", "borrower_project_id",
        "arq_uuid", "instance_uuid", "state", "started_at", "reclaim_deadline", "ended_at",
        "duration_seconds", "energy_kwh",
    }  # fmt: skip
    assert shown.json["duration_seconds"] == 3600.0
    assert shown.json["energy_kwh"] == 0.5
    assert client.simulate_get(f"/v2/loans/{uuid.uuid4()}", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"state": "lost"}, "state"),
        ({"pool_uuid": "not-a-uuid"}, "pool_uuid"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00"}, "until"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "since"),
        ({"borrower": "x"}, "borrower"),
    ],
)
def test_bad_loan_filters_are_400s_naming_them(client, params, named):
    got = client.simulate_get("/v2/loans", params=params, headers=ADMIN)
    assert got.status_code == 400
    assert named in message(got)


def test_the_summary_groups_by_borrower_by_default_and_by_pool(client, db, devices, pool):
    now = naive_now()
    open_loan(
        db,
        pool,
        devices[1]["device_uuid"],
        started_at=now - dt.timedelta(hours=3),
        state="closed",
        ended_at=now - dt.timedelta(hours=1),
    )
    got = client.simulate_get("/v2/loans/summary", headers=ADMIN)
    assert got.status_code == 200, got.text
    check_response("/v2/loans/summary", "get", got)
    assert got.json["group_by"] == "borrower"
    assert got.json["groups"] == [
        {"key": personas.PROJECT_B, "loans": 1, "device_seconds": 7200.0, "energy_kwh": 0.5}
    ]
    since = dt.datetime.fromisoformat(got.json["since"])
    until = dt.datetime.fromisoformat(got.json["until"])
    assert until - since == dt.timedelta(days=30)
    by_pool = client.simulate_get(
        "/v2/loans/summary",
        params={
            "group_by": "pool",
            "since": (now - dt.timedelta(hours=2)).isoformat() + "Z",
            "until": now.isoformat() + "Z",
        },
        headers=ADMIN,
    )
    assert by_pool.json["groups"][0]["key"] == pool["uuid"]
    assert by_pool.json["groups"][0]["device_seconds"] == 3600.0


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"group_by": "colour"}, "group_by"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "since"),
        ({"step": "1"}, "step"),
    ],
)
def test_bad_summary_parameters_are_400s_naming_them(client, params, named):
    got = client.simulate_get("/v2/loans/summary", params=params, headers=ADMIN)
    assert got.status_code == 400
    assert named in message(got)


def test_who_sees_what(client, db, devices, pool):
    loan = open_loan(db, pool, devices[0]["device_uuid"])
    item = f"{POOLS}/{pool['uuid']}"
    # The owner's member and reader see the pool; the borrower and a stranger do not.
    assert client.simulate_get(item, headers=OWNER).status_code == 200
    assert client.simulate_get(item, headers=OWNER_READER).status_code == 200
    for persona in (BORROWER, STRANGER):
        assert client.simulate_get(item, headers=persona).status_code == 404
        assert client.simulate_get(POOLS, headers=persona).json["accelerator_pools"] == []
        denied = client.simulate_patch(item, json={"notice_seconds": 1}, headers=persona)
        assert denied.status_code == 404
        action = {"action": "reclaim"}
        reclaim = client.simulate_post(f"{item}/action", json=action, headers=persona)
        assert reclaim.status_code == 404
        assert client.simulate_delete(item, headers=persona).status_code == 404
    # A reader may look but not change.
    assert (
        client.simulate_patch(item, json={"notice_seconds": 1}, headers=OWNER_READER).status_code
        == 403
    )
    # The owner may not create a pool for another project.
    other = client.simulate_post(
        POOLS,
        json=pool_body(
            name="b", owner_project_id=personas.PROJECT_B, selector={"hosts": ["node2"]}
        ),
        headers=OWNER,
    )
    assert other.status_code == 403
    # Loans: owner and borrower see it, a stranger gets 404 and empty lists.
    for persona in (OWNER, BORROWER):
        assert client.simulate_get(f"/v2/loans/{loan}", headers=persona).status_code == 200
        listed = client.simulate_get("/v2/loans", headers=persona).json["loans"]
        assert [x["uuid"] for x in listed] == [loan]
    assert client.simulate_get(f"/v2/loans/{loan}", headers=STRANGER).status_code == 404
    assert client.simulate_get("/v2/loans", headers=STRANGER).json["loans"] == []
    assert client.simulate_get("/v2/loans/summary", headers=STRANGER).json["groups"] == []
    assert len(client.simulate_get("/v2/loans/summary", headers=BORROWER).json["groups"]) == 1


def test_an_owner_member_creates_a_pool_for_its_project(client, devices):
    body = pool_body(selector={"hosts": ["node2"]})
    del body["owner_project_id"]
    got = client.simulate_post(POOLS, json=body, headers=OWNER)
    assert got.status_code == 201, got.text
    assert got.json["owner_project_id"] == personas.PROJECT_A


def test_the_routes_need_2_7(client, devices, pool):
    old = personas.headers("admin", version="2.6")
    item = f"{POOLS}/{pool['uuid']}"
    for method, path in (
        ("GET", POOLS),
        ("POST", POOLS),
        ("GET", item),
        ("PATCH", item),
        ("DELETE", item),
        ("POST", f"{item}/windows"),
        ("DELETE", f"{item}/windows/{uuid.uuid4()}"),
        ("POST", f"{item}/action"),
        ("GET", "/v2/loans"),
        ("GET", "/v2/loans/summary"),
        ("GET", f"/v2/loans/{uuid.uuid4()}"),
    ):
        got = client.simulate_request(method, path, json={}, headers=old)
        assert got.status_code == 406, (method, path)
        assert "2.7" in message(got)


def test_loans_summary_is_not_taken_for_a_uuid(client):
    got = client.simulate_get("/v2/loans/summary", headers=ADMIN)
    assert got.status_code == 200
    assert "groups" in got.json


def test_metrics_count_the_device_seconds_lent_by_owner_and_borrower(client, db, devices, pool):
    now = naive_now()
    open_loan(
        db,
        pool,
        devices[1]["device_uuid"],
        started_at=now - dt.timedelta(hours=3),
        state="closed",
        ended_at=now - dt.timedelta(hours=1),
    )
    got = client.simulate_get("/metrics", headers=ADMIN)
    assert got.status_code == 200
    assert "# TYPE cyborg_lite_lent_device_seconds_total counter" in got.text
    sample = (
        f'cyborg_lite_lent_device_seconds_total{{owner_project_id="{personas.PROJECT_A}",'
        f'borrower_project_id="{personas.PROJECT_B}"}} 7200.0'
    )
    assert sample in got.text.splitlines()
