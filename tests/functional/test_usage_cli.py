"""The usage commands against the real app and database, in process: the CLI's client talks
to the falcon app through an adapter (no server process), so each command's request, the
API's answer and the command's table are the real ones."""

from __future__ import annotations

import types
import urllib.parse

import pytest
import requests
from cliff import columns as cliff_columns

from cyborg_lite.cli import client, inventory, usage
from tests.functional import usage_support as us


class AppAdapter:
    """keystoneauth's adapter as the CLI's client calls it, answered by the falcon app."""

    def __init__(self, test_client):
        self._client = test_client
        self.sent = []

    def request(self, url, method, **kwargs):
        parts = urllib.parse.urlsplit(url)
        path = parts.path if parts.path.startswith("/v2") else f"/v2{parts.path}"
        params = {k: str(v) for k, v in (kwargs.get("params") or {}).items()}
        headers = {**kwargs["headers"], "X-Roles": "admin", "X-Project-Id": "p"}
        self.sent.append((method, path, params or parts.query, headers["OpenStack-API-Version"]))
        result = self._client.simulate_request(
            method, path, params=params, query_string=parts.query or None, headers=headers
        )
        resp = requests.Response()
        resp.status_code = result.status_code
        resp.headers.update(result.headers)
        resp._content = result.content
        resp.url = url
        return resp


def run(test_client, command, *argv, version=None):
    api = client.Client.__new__(client.Client)
    api.version = version
    api._adapter = AppAdapter(test_client)
    app = types.SimpleNamespace(client_manager=types.SimpleNamespace(cyborg_lite=api))
    cmd = command(app, None)
    parsed = cmd.get_parser("openstack accelerator").parse_args(list(argv))
    return cmd.take_action(parsed), api._adapter


def text(value):
    return value.human_readable() if isinstance(value, cliff_columns.FormattableColumn) else value


@pytest.fixture
def fleet(db):
    return us.fleet(db, us.aligned_now())


def test_usage_show_prints_the_fleet_summary(client, fleet):
    (names, values), sent = run(client, usage.ShowUsage)
    shown = {n: text(v) for n, v in zip(names, values, strict=True)}
    assert sent.sent[0][:2] == ("GET", "/v2/usage")
    assert sent.sent[0][3] == "accelerator 2.7"
    assert shown["by_model"].splitlines() == [
        "NVIDIA H100 80GB HBM3: 3 devices, 1 busy, 1 idle, mean utilization 45.5%",
        "PAC N3000: 2 devices, 0 busy, 1 idle, mean utilization 0.0%",
    ]
    assert shown["by_host"].splitlines()[0].startswith("node1: 3 devices, 1 busy, 1 idle")
    assert (
        f"{fleet['idle']['device_uuid']} idle since {us.iso(fleet['three_h'])}"
        in (shown["allocated_idle"])
    )
    assert values[3]._value[0]["arq_uuid"] == fleet["idle"]["arq_uuid"]  # raw for -f json


def test_device_usage_prints_sparklines_of_the_series(client, fleet):
    device = fleet["idle"]["device_uuid"]
    (names, values), sent = run(client, usage.ShowDeviceUsage, device, "--last", "15m")
    shown = dict(zip(names, values, strict=True))
    assert sent.sent[0][1] == f"/v2/devices/{device}/usage"
    assert "since" in sent.sent[0][2]
    assert shown["resolution_seconds"] == 60
    assert shown["samples"] == 10
    # Utilization 10 down to 1: a falling line, scaled min to max.
    assert text(shown["utilization_percent"]) == ("█▇▆▆▅▄▃▃▂▁  min 1%, mean 5.5%, max 10%")
    assert text(shown["memory_used_bytes"]).startswith("▁" * 10)
    assert shown["first"] == us.iso(fleet["now"] - 10 * us.MINUTE)


def test_device_usage_passes_the_resolution_in_seconds(client, fleet):
    device = fleet["idle"]["device_uuid"]
    (names, values), sent = run(client, usage.ShowDeviceUsage, device, "--resolution", "1h")
    assert sent.sent[0][2] == {"resolution": "3600"}
    assert dict(zip(names, values, strict=True))["samples"] == 0


def test_device_list_idle_for_takes_a_duration(client, fleet):
    (names, rows), sent = run(client, inventory.ListDevice, "--idle-for", "1h")
    assert sent.sent[0][2]["idle_for"] == "3600"
    assert sent.sent[0][3] == "accelerator 2.7"
    assert names[-3:] == ("utilization_percent", "idle_since", "allocated_to")
    assert [r[0] for r in rows] == [fleet["idle"]["device_uuid"]]
    assert rows[0][-2:] == (us.iso(fleet["three_h"]), fleet["idle"]["instance_uuid"])
    (_, rows), _ = run(client, inventory.ListDevice, "--idle-for", "90")
    assert [r[0] for r in rows] == [fleet["idle"]["device_uuid"], fleet["quiet"]["device_uuid"]]


def test_device_list_idle_for_needs_2_6(client, fleet):
    with pytest.raises(Exception, match=r"needs accelerator API microversion 2\.6"):
        run(client, inventory.ListDevice, "--idle-for", "1h", version=(2, 5))
    (names, _rows), _ = run(client, inventory.ListDevice, version=(2, 5))
    assert "idle_since" not in names
