"""The devices story: list with each filter, paging, show, microversion 2.3, policy."""

from __future__ import annotations

import uuid

import pytest

from tests import personas, seed
from tests.functional.envelope import message


@pytest.fixture
def fleet(db):
    return [
        seed.device(db, hostname="compute1", pci="0000:3b:00.0"),
        seed.device(
            db,
            hostname="compute1",
            type="FPGA",
            vendor="8086",
            model="PAC N3000",
            pci="0000:5e:00.0",
            rc="FPGA",
            traits=("CUSTOM_FPGA_INTEL",),
        ),
        seed.device(db, hostname="compute2", pci="0000:3b:00.0"),
    ]


def test_list_all_in_order(client, fleet):
    result = client.simulate_get("/v2/devices")
    assert result.status_code == 200
    assert list(result.json) == ["devices"]
    assert [d["uuid"] for d in result.json["devices"]] == [f["device_uuid"] for f in fleet]


def test_device_body_fields(client, fleet):
    dev = client.simulate_get(f"/v2/devices/{fleet[0]['device_uuid']}", headers={"Host": "h"}).json
    assert set(dev) == {
        "uuid",
        "type",
        "vendor",
        "model",
        "std_board_info",
        "vendor_board_info",
        "hostname",
        "links",
        "created_at",
        "updated_at",
    }
    assert dev["type"] == "GPU"
    assert dev["vendor"] == "10de"
    assert dev["hostname"] == "compute1"
    assert dev["links"] == [{"href": f"http://h/v2/devices/{dev['uuid']}", "rel": "self"}]
    assert dev["created_at"].endswith("+00:00")
    assert "T" in dev["created_at"]
    assert dev["updated_at"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=FPGA", [1]),
        ("vendor=10de", [0, 2]),
        ("hostname=compute2", [2]),
        ("hostname=compute1&type=GPU", [0]),
        ("type=GPU&vendor=8086", []),
        ("type=NOPE", []),
    ],
)
def test_filters(client, fleet, query, expected):
    result = client.simulate_get("/v2/devices", query_string=query)
    assert result.status_code == 200
    assert [d["uuid"] for d in result.json["devices"]] == [
        fleet[i]["device_uuid"] for i in expected
    ]


def test_unknown_filter_is_400(client, fleet):
    result = client.simulate_get("/v2/devices", query_string="colour=red")
    assert result.status_code == 400
    assert message(result) == 'Unknown argument: "colour"'


def test_paging_with_limit_and_marker(client, fleet):
    first = client.simulate_get("/v2/devices", query_string="limit=2")
    assert [d["uuid"] for d in first.json["devices"]] == [f["device_uuid"] for f in fleet[:2]]
    assert first.headers["link"].endswith("rel=next")
    assert f"marker={fleet[1]['device_uuid']}" in first.headers["link"]
    # The same URL in the body, as Nova names it (openstacksdk reads that one).
    href = f"http://falconframework.org/v2/devices?limit=2&marker={fleet[1]['device_uuid']}"
    assert first.json["devices_links"] == [{"rel": "next", "href": href}]
    assert first.headers["link"] == f"<{href}>; rel=next"
    second = client.simulate_get(
        "/v2/devices", query_string=f"limit=2&marker={fleet[1]['device_uuid']}"
    )
    assert [d["uuid"] for d in second.json["devices"]] == [fleet[2]["device_uuid"]]
    assert "link" not in second.headers
    assert list(second.json) == ["devices"]


def test_next_link_keeps_filters_and_follows_public_endpoint_and_path(client, fleet, conf):
    conf.set_override("public_endpoint", "https://api.example.org/accelerator", group="api")
    first = client.simulate_get("/devices", query_string="hostname=compute1&limit=1")
    (link,) = first.json["devices_links"]
    assert link["href"] == (
        "https://api.example.org/accelerator/v2/devices?hostname=compute1&limit=1"
        f"&marker={fleet[0]['device_uuid']}"
    )


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("marker=not-a-uuid", "marker"),
        (f"marker={uuid.uuid4()}", "not found"),
    ],
)
def test_bad_paging_is_400(client, fleet, query, text):
    result = client.simulate_get("/v2/devices", query_string=query)
    assert result.status_code == 400
    assert text in message(result)


def test_show_unknown_is_404(client, fleet):
    missing = str(uuid.uuid4())
    result = client.simulate_get(f"/v2/devices/{missing}")
    assert result.status_code == 404
    assert message(result) == f"Device not found with uuid={missing}"


def test_show_malformed_uuid_is_400(client):
    result = client.simulate_get("/v2/devices/xyz")
    assert result.status_code == 400
    assert "Value: 'xyz'. unable to convert to uuid" in message(result)


def test_status_only_from_2_3(client, fleet):
    path = f"/v2/devices/{fleet[0]['device_uuid']}"
    assert (
        "status"
        not in client.simulate_get(path, headers=personas.headers("admin", version="2.2")).json
    )
    body = client.simulate_get(path, headers=personas.headers("admin", version="2.3")).json
    assert body["status"] == "enabled"
    listed = client.simulate_get("/v2/devices", headers=personas.headers("admin", version="2.3"))
    assert all(d["status"] == "enabled" for d in listed.json["devices"])


def test_disable_and_enable(client, fleet):
    path = f"/v2/devices/{fleet[0]['device_uuid']}"
    v23 = personas.headers("admin", version="2.3")
    result = client.simulate_post(path + "/disable")
    assert result.status_code == 204
    assert result.content == b""
    assert client.simulate_get(path, headers=v23).json["status"] == "maintaining"
    assert client.simulate_get(path, headers=v23).json["updated_at"] is not None
    assert client.simulate_post(path + "/enable").status_code == 204
    assert client.simulate_get(path, headers=v23).json["status"] == "enabled"


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        (personas.ADMIN, 200),
        (personas.MANAGER, 200),
        (personas.MEMBER, 403),
        (personas.READER, 403),
        (personas.SERVICE, 403),
    ],
)
def test_read_policy(client, fleet, persona, status):
    result = client.simulate_get("/v2/devices", headers=persona)
    assert result.status_code == status
    one = client.simulate_get(f"/v2/devices/{fleet[0]['device_uuid']}", headers=persona)
    assert one.status_code == status
    if status == 403:
        assert "cyborg:device:get" in message(result)


@pytest.mark.parametrize("persona", [personas.MANAGER, personas.MEMBER])
def test_only_admin_disables(client, fleet, persona):
    result = client.simulate_post(f"/v2/devices/{fleet[0]['device_uuid']}/disable", headers=persona)
    assert result.status_code == 403
    assert message(result) == "Access was denied to the following resource: cyborg:device:disable"
