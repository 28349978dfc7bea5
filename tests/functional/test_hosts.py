"""The hosts story (microversion 2.4): list, filter, page, show, 406 below 2.4, policy, and
the host state on device bodies."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from cyborg_lite.db import models
from tests import personas, seed
from tests.functional.envelope import fault

V24 = personas.headers("admin", version="2.4")
V23 = personas.headers("admin", version="2.3")


@pytest.fixture
def fleet(db):
    seed.device(db, hostname="compute1", pci="0000:3b:00.0")
    seed.device(db, hostname="compute1", type="FPGA", vendor="8086", pci="0000:5e:00.0", rc="FPGA")
    seed.device(db, hostname="compute2", pci="0000:3b:00.0")
    with db.transaction() as s:
        s.add(models.Host(hostname="compute3", state="up"))
        s.execute(
            sa.update(models.Host)
            .where(models.Host.hostname == "compute2")
            .values(
                state="down",
                agent_version="0.1.0",
                last_heartbeat=dt.datetime(2026, 11, 23, 12, 0, 0),
                driver_errors='[{"driver": "amd", "error": "timed out"}]',
            )
        )


def test_list_hosts_with_counts(client, fleet):
    result = client.simulate_get("/v2/hosts", headers=V24)
    assert result.status_code == 200
    hosts = {h["hostname"]: h for h in result.json["hosts"]}
    assert list(hosts) == ["compute1", "compute2", "compute3"]
    assert hosts["compute1"]["device_count"] == 2
    assert hosts["compute1"]["device_counts"] == {"FPGA": 1, "GPU": 1}
    assert hosts["compute3"]["device_count"] == 0
    c2 = hosts["compute2"]
    assert c2["state"] == "down"
    assert c2["agent_version"] == "0.1.0"
    assert c2["last_heartbeat"] == "2026-11-23T12:00:00+00:00"
    assert c2["driver_errors"] == [{"driver": "amd", "error": "timed out"}]
    assert c2["links"][0]["href"].endswith("/v2/hosts/compute2")


def test_filter_by_state(client, fleet):
    result = client.simulate_get("/v2/hosts", query_string="state=down", headers=V24)
    assert [h["hostname"] for h in result.json["hosts"]] == ["compute2"]
    bad = client.simulate_get("/v2/hosts", query_string="state=sideways", headers=V24)
    assert bad.status_code == 400
    assert "sideways" in fault(bad)["faultstring"]


def test_paging_by_hostname(client, fleet):
    first = client.simulate_get("/v2/hosts", query_string="limit=2", headers=V24)
    assert [h["hostname"] for h in first.json["hosts"]] == ["compute1", "compute2"]
    assert "marker=compute2" in first.headers["link"]
    second = client.simulate_get("/v2/hosts", query_string="limit=2&marker=compute2", headers=V24)
    assert [h["hostname"] for h in second.json["hosts"]] == ["compute3"]
    assert "link" not in second.headers
    unknown = client.simulate_get("/v2/hosts", query_string="marker=nope", headers=V24)
    assert unknown.status_code == 400


def test_unknown_parameter_is_400(client, fleet):
    result = client.simulate_get("/v2/hosts", query_string="color=red", headers=V24)
    assert result.status_code == 400


def test_show_host(client, fleet):
    result = client.simulate_get("/v2/hosts/compute1", headers=V24)
    assert result.status_code == 200
    assert result.json["hostname"] == "compute1"
    assert result.json["device_count"] == 2
    missing = client.simulate_get("/v2/hosts/nope", headers=V24)
    assert missing.status_code == 404
    assert "nope" in fault(missing)["faultstring"]


@pytest.mark.parametrize("path", ["/v2/hosts", "/v2/hosts/compute1"])
def test_below_2_4_is_406(client, fleet, path):
    result = client.simulate_get(path, headers=V23)
    assert result.status_code == 406
    assert "2.4" in fault(result)["faultstring"]
    assert client.simulate_get(path).status_code == 406  # no header means 2.0


@pytest.mark.parametrize(
    ("persona", "status"),
    [("admin", 200), ("manager", 200), ("member", 403), ("reader", 403)],
)
def test_read_policy(client, fleet, persona, status):
    headers = personas.headers(persona, version="2.4")
    assert client.simulate_get("/v2/hosts", headers=headers).status_code == status
    assert client.simulate_get("/v2/hosts/compute1", headers=headers).status_code == status


def test_devices_carry_host_state_from_2_4(client, fleet):
    listed = client.simulate_get("/v2/devices", headers=V24).json["devices"]
    assert {(d["hostname"], d["host_state"]) for d in listed} == {
        ("compute1", "up"),
        ("compute2", "down"),
    }
    one = listed[-1]["uuid"]
    assert client.simulate_get(f"/v2/devices/{one}", headers=V24).json["host_state"] == "down"
    older = client.simulate_get("/v2/devices", headers=V23).json["devices"]
    assert all("host_state" not in d for d in older)
