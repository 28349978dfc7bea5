"""The usage story over the real app and every database (microversion 2.6): a device's
``usage`` (and its absence before 2.6), null figures, ``idle_for`` with paging, the series and
its 400s, the fleet summary, who sees what, and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import uuid

import falcon.testing
import pytest

from cyborg_lite.api.app import create_app
from cyborg_lite.db import usage as db_usage
from tests import personas
from tests.conftest import make_test_conf
from tests.functional import usage_support as us
from tests.functional.envelope import message
from tests.functional.test_openapi import check_response

ADMIN = personas.headers("admin", version=us.V26)
MANAGER_A = personas.headers("manager", version=us.V26)
READER_A = personas.headers("reader", version=us.V26)
READER_B = personas.headers("reader", personas.PROJECT_B, version=us.V26)


@pytest.fixture
def fleet(db):
    return us.fleet(db, us.aligned_now())


def by_uuid(devices):
    return {d["uuid"]: d for d in devices}


def test_a_device_shows_its_usage_from_2_6_and_not_before(client, fleet):
    path = f"/v2/devices/{fleet['idle']['device_uuid']}"
    old = client.simulate_get(path, headers=personas.headers("admin", version="2.5"))
    assert old.status_code == 200
    assert "usage" not in old.json
    got = client.simulate_get(path, headers=ADMIN)
    assert got.status_code == 200
    check_response("/v2/devices/{uuid}", "get", got)
    assert got.json["usage"] == {
        "utilization_percent": 1.0,
        "memory_used_bytes": 1024,
        "memory_total_bytes": 4096,
        "power_watts": 61.0,
        "temperature_celsius": 50.0,
        "processes": 0,
        "sampled_at": us.iso(fleet["now"]),
        "idle_since": us.iso(fleet["three_h"]),
        "last_busy": None,
        "allocated_to": {
            "arq_uuid": fleet["idle"]["arq_uuid"],
            "instance_uuid": fleet["idle"]["instance_uuid"],
            "project_id": personas.PROJECT_A,
        },
    }


def test_the_list_joins_usage_and_keeps_unknown_figures_null(client, fleet):
    got = client.simulate_get("/v2/devices", headers=ADMIN)
    assert got.status_code == 200
    check_response("/v2/devices", "get", got)
    devices = by_uuid(got.json["devices"])
    busy = devices[fleet["busy"]["device_uuid"]]["usage"]
    assert busy["idle_since"] is None
    assert busy["last_busy"] == us.iso(fleet["now"])
    assert busy["utilization_percent"] == 90.0
    blind = devices[fleet["blind"]["device_uuid"]]["usage"]
    assert blind["sampled_at"] == us.iso(fleet["now"])
    for figure in ("utilization_percent", "memory_used_bytes", "power_watts", "processes"):
        assert blind[figure] is None, figure
    assert blind["temperature_celsius"] is None
    assert blind["idle_since"] is None
    assert blind["allocated_to"] is None
    never = devices[fleet["never"]["device_uuid"]]["usage"]
    assert set(never.values()) == {None}
    quiet = devices[fleet["quiet"]["device_uuid"]]["usage"]
    assert quiet["power_watts"] is None  # the source gave none: null, not 0
    assert quiet["utilization_percent"] == 0.0
    old = client.simulate_get("/v2/devices", headers=personas.headers("admin", version="2.5"))
    assert all("usage" not in d for d in old.json["devices"])


def test_idle_for_lists_devices_idle_that_long_paged(client, fleet):
    hour = client.simulate_get("/v2/devices", query_string="idle_for=3600", headers=ADMIN)
    assert [d["uuid"] for d in hour.json["devices"]] == [fleet["idle"]["device_uuid"]]
    idle = [fleet["idle"]["device_uuid"], fleet["quiet"]["device_uuid"]]
    zero = client.simulate_get("/v2/devices", query_string="idle_for=0", headers=ADMIN)
    assert [d["uuid"] for d in zero.json["devices"]] == idle
    first = client.simulate_get("/v2/devices", query_string="idle_for=60&limit=1", headers=ADMIN)
    assert [d["uuid"] for d in first.json["devices"]] == idle[:1]
    nxt = first.json["devices_links"][0]["href"]
    assert "idle_for=60" in nxt
    second = client.simulate_get("/v2/devices", query_string=nxt.split("?", 1)[1], headers=ADMIN)
    assert [d["uuid"] for d in second.json["devices"]] == idle[1:]
    filtered = client.simulate_get(
        "/v2/devices", query_string="idle_for=60&type=FPGA", headers=ADMIN
    )
    assert [d["uuid"] for d in filtered.json["devices"]] == idle[1:]


@pytest.mark.parametrize("value", ["-1", "soon", "1.5", str(2**31)])
def test_idle_for_refuses_bad_values_naming_it(client, fleet, value):
    got = client.simulate_get("/v2/devices", query_string=f"idle_for={value}", headers=ADMIN)
    assert got.status_code == 400
    assert "idle_for" in message(got)


def test_idle_for_is_a_2_6_parameter(client, fleet):
    got = client.simulate_get(
        "/v2/devices", query_string="idle_for=60", headers=personas.headers("admin", version="2.5")
    )
    assert got.status_code == 400
    assert "idle_for" in message(got)


def test_the_series_defaults_to_the_last_hour_at_the_stored_step(client, fleet):
    path = f"/v2/devices/{fleet['idle']['device_uuid']}/usage"
    got = client.simulate_get(path, headers=ADMIN)
    assert got.status_code == 200
    check_response("/v2/devices/{uuid}/usage", "get", got)
    body = got.json
    assert body["device_uuid"] == fleet["idle"]["device_uuid"]
    assert body["resolution_seconds"] == 60
    assert [s["utilization_percent_mean"] for s in body["samples"]] == [
        float(n) for n in range(10, 0, -1)
    ]
    first = body["samples"][0]
    assert first == {
        "start": us.iso(fleet["now"] - 10 * us.MINUTE),
        "utilization_percent_mean": 10.0,
        "utilization_percent_max": 20.0,
        "memory_used_bytes": 1024,
        "power_watts": 70.0,
    }


def test_the_series_between_since_and_until(client, fleet):
    now = fleet["now"]
    path = f"/v2/devices/{fleet['idle']['device_uuid']}/usage"
    since = (now - 4 * us.MINUTE).isoformat().replace("+00:00", "Z")
    until = (now - 2 * us.MINUTE).isoformat()
    got = client.simulate_get(path, params={"since": since, "until": until}, headers=ADMIN)
    assert [s["start"] for s in got.json["samples"]] == [
        us.iso(now - 4 * us.MINUTE),
        us.iso(now - 3 * us.MINUTE),
    ]
    old = client.simulate_get(
        path,
        params={"since": us.iso(fleet["three_h"]), "until": us.iso(now - 2 * us.MINUTE)},
        headers=ADMIN,
    )
    assert old.json["resolution_seconds"] == 60  # within [usage] retention_hours (48)
    assert len(old.json["samples"]) == 1 + 8


def test_the_series_at_an_hour_reads_the_hourly_rollups(client, db, fleet):
    hour = fleet["three_h"].replace(minute=0, tzinfo=None)
    with db.transaction() as s:
        db_usage.roll_hour(s, hour, [60])
    path = f"/v2/devices/{fleet['idle']['device_uuid']}/usage"
    since = us.iso(hour.replace(tzinfo=dt.UTC) - dt.timedelta(hours=1))
    got = client.simulate_get(path, params={"since": since, "resolution": "3600"}, headers=ADMIN)
    assert got.status_code == 200
    assert got.json["resolution_seconds"] == 3600
    assert got.json["samples"] == [
        {
            "start": us.iso(hour.replace(tzinfo=dt.UTC)),
            "utilization_percent_mean": 1.0,
            "utilization_percent_max": 11.0,
            "memory_used_bytes": 1024,
            "power_watts": 60.0,
        }
    ]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00"}, "until"),
        ({"since": "1969-12-31T00:00:00Z"}, "since"),
        ({"since": "2026-03-01T10:00:00Z", "until": "2026-03-01T09:00:00Z"}, "since"),
        ({"resolution": "7"}, "resolution"),
        ({"resolution": "0"}, "resolution"),
        ({"resolution": "hourly"}, "resolution"),
        ({"step": "60"}, "step"),
    ],
)
def test_the_series_refuses_bad_values_naming_them(client, fleet, params, named):
    path = f"/v2/devices/{fleet['idle']['device_uuid']}/usage"
    got = client.simulate_get(path, params=params, headers=ADMIN)
    assert got.status_code == 400
    assert named in message(got)
    check_response("/v2/devices/{uuid}/usage", "get", got)


def test_the_new_routes_need_2_6(client, fleet):
    for path in (f"/v2/devices/{fleet['idle']['device_uuid']}/usage", "/v2/usage"):
        got = client.simulate_get(path, headers=personas.headers("admin", version="2.5"))
        assert got.status_code == 406
        assert "2.6" in message(got)


def test_the_series_of_an_unknown_device_is_404(client, fleet):
    got = client.simulate_get(f"/v2/devices/{uuid.uuid4()}/usage", headers=ADMIN)
    assert got.status_code == 404


def test_the_fleet_summary_groups_by_model_host_and_project(client, fleet):
    got = client.simulate_get("/v2/usage", headers=ADMIN)
    assert got.status_code == 200
    check_response("/v2/usage", "get", got)
    body = got.json
    assert body["by_model"] == [
        {
            "model": "NVIDIA H100 80GB HBM3",
            "devices": 3,
            "busy": 1,
            "idle": 1,
            "utilization_percent_mean": pytest.approx((1.0 + 90.0) / 2),
        },
        {"model": "PAC N3000", "devices": 2, "busy": 0, "idle": 1, "utilization_percent_mean": 0},
    ]
    assert [(g["hostname"], g["devices"], g["busy"], g["idle"]) for g in body["by_host"]] == [
        ("node1", 3, 1, 1),
        ("node2", 2, 0, 1),
    ]
    assert [(g["project_id"], g["devices"], g["busy"], g["idle"]) for g in body["by_project"]] == [
        (personas.PROJECT_A, 1, 0, 1),
        (personas.PROJECT_B, 2, 1, 1),
    ]
    # Bound and idle for more than [usage] allocated_idle_after (3600): the 3-hour one only.
    assert body["allocated_idle"] == [
        {
            "device_uuid": fleet["idle"]["device_uuid"],
            "arq_uuid": fleet["idle"]["arq_uuid"],
            "instance_uuid": fleet["idle"]["instance_uuid"],
            "project_id": personas.PROJECT_A,
            "idle_since": us.iso(fleet["three_h"]),
        }
    ]


def test_allocated_idle_after_is_read_from_the_usage_options(db, fleet, tmp_path):
    conf = make_test_conf(str(tmp_path), **{"usage.allocated_idle_after": 600})
    client = falcon.testing.TestClient(create_app(conf, db=db))
    body = client.simulate_get("/v2/usage", headers=ADMIN).json
    assert [a["device_uuid"] for a in body["allocated_idle"]] == [
        fleet["idle"]["device_uuid"],
        fleet["quiet"]["device_uuid"],
    ]


def test_a_project_sees_the_usage_of_its_own_arqs_devices_only(client, fleet):
    mine = client.simulate_get("/v2/usage", headers=READER_A).json
    assert [(g["model"], g["devices"]) for g in mine["by_model"]] == [("NVIDIA H100 80GB HBM3", 1)]
    assert [g["project_id"] for g in mine["by_project"]] == [personas.PROJECT_A]
    assert [a["device_uuid"] for a in mine["allocated_idle"]] == [fleet["idle"]["device_uuid"]]
    theirs = client.simulate_get("/v2/usage", headers=READER_B).json
    assert [g["project_id"] for g in theirs["by_project"]] == [personas.PROJECT_B]
    assert theirs["allocated_idle"] == []
    own = f"/v2/devices/{fleet['idle']['device_uuid']}/usage"
    other = f"/v2/devices/{fleet['busy']['device_uuid']}/usage"
    assert client.simulate_get(own, headers=READER_A).status_code == 200
    hidden = client.simulate_get(other, headers=READER_A)
    assert hidden.status_code == 404
    assert client.simulate_get(other, headers=READER_B).status_code == 200
    listed = by_uuid(client.simulate_get("/v2/devices", headers=MANAGER_A).json["devices"])
    assert listed[fleet["idle"]["device_uuid"]]["usage"]["idle_since"] == us.iso(fleet["three_h"])
    assert listed[fleet["busy"]["device_uuid"]]["usage"] is None
    assert listed[fleet["never"]["device_uuid"]]["usage"] is None
    idle = client.simulate_get("/v2/devices", query_string="idle_for=0", headers=MANAGER_A)
    assert [d["uuid"] for d in idle.json["devices"]] == [fleet["idle"]["device_uuid"]]
    shown = client.simulate_get(f"/v2/devices/{fleet['busy']['device_uuid']}", headers=MANAGER_A)
    assert shown.json["usage"] is None


def test_usage_needs_a_role_in_a_project(client, fleet):
    denied = client.simulate_get("/v2/usage", headers=personas.headers("", version=us.V26))
    assert denied.status_code == 403
    assert "cyborg:usage:get_summary" in message(denied)
    check_response("/v2/usage", "get", denied)
