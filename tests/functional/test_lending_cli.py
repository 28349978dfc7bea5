"""The lending commands against the real app and database, in process (as
``test_usage_cli``): pool create, list, show, set, window add and remove, reclaim, delete,
loan list and summary, each the real request, answer and table."""

from __future__ import annotations

import types
import urllib.parse

import pytest
import requests
from osc_lib import exceptions

from cyborg_lite.cli import client, lending
from tests import personas, seed
from tests.functional import test_lending_api as api_story


class JsonAppAdapter:
    """keystoneauth's adapter as the CLI's client calls it (JSON bodies too), answered by the
    falcon app as an admin."""

    def __init__(self, test_client):
        self._client = test_client
        self.sent = []

    def request(self, url, method, **kwargs):
        parts = urllib.parse.urlsplit(url)
        path = parts.path if parts.path.startswith("/v2") else f"/v2{parts.path}"
        params = {k: str(v) for k, v in (kwargs.get("params") or {}).items()}
        headers = {**kwargs["headers"], "X-Roles": "admin", "X-Project-Id": personas.PROJECT_A}
        self.sent.append((method, path, headers["OpenStack-API-Version"]))
        result = self._client.simulate_request(
            method, path, params=params, json=kwargs.get("json"), headers=headers
        )
        resp = requests.Response()
        resp.status_code = result.status_code
        resp.headers.update(result.headers)
        resp._content = result.content
        resp.url = url
        return resp


def run(test_client, command, *argv):
    api = client.Client.__new__(client.Client)
    api.version = None
    api._adapter = JsonAppAdapter(test_client)
    app = types.SimpleNamespace(client_manager=types.SimpleNamespace(cyborg_lite=api))
    cmd = command(app, None)
    parsed = cmd.get_parser("openstack accelerator").parse_args(list(argv))
    return cmd.take_action(parsed), api._adapter


def shown(result):
    names, values = result
    return dict(zip(names, values, strict=True))


@pytest.fixture
def devices(db):
    return [
        seed.device(db, hostname="node1", pci="0000:01:00.0"),
        seed.device(db, hostname="node1", pci="0000:02:00.0"),
    ]


def test_pool_commands_round_trip(client, db, devices):
    created, sent = run(
        client,
        lending.CreatePool,
        "team-a",
        "--host",
        "node1",
        "--borrower-project",
        personas.PROJECT_B,
        "--reserve-count",
        "1",
        "--notice-seconds",
        "60",
        "--timezone",
        "Europe/Berlin",
    )
    assert sent.sent == [("POST", "/v2/accelerator_pools", "accelerator 2.7")]
    pool = shown(created)
    assert pool["name"] == "team-a"
    assert pool["device_count"] == 2
    (names, rows), _ = run(client, lending.ListPool)
    assert [r[names.index("name")] for r in rows] == ["team-a"]
    by_name = shown(run(client, lending.ShowPool, "team-a")[0])
    assert by_name["uuid"] == pool["uuid"]
    changed = shown(run(client, lending.SetPool, "team-a", "--notice-seconds", "5")[0])
    assert changed["notice_seconds"] == 5
    window = shown(
        run(client, lending.AddWindow, "team-a", "--days", "mon,fri", "--start", "19:00",
            "--end", "07:00")[0]
    )  # fmt: skip
    assert window["days"]._value == ["mon", "fri"]
    run(client, lending.RemoveWindow, "team-a", window["uuid"])
    assert shown(run(client, lending.ShowPool, pool["uuid"])[0])["windows"]._value == []
    loan = api_story.open_loan(db, pool, devices[0]["device_uuid"])
    (names, rows), _ = run(client, lending.ReclaimPool, "team-a")
    assert [r[names.index("uuid")] for r in rows] == [loan]
    assert rows[0][names.index("state")] == "reclaiming"
    (names, rows), _ = run(client, lending.ListLoan, "--state", "reclaiming")
    assert [r[names.index("uuid")] for r in rows] == [loan]
    (names, rows), _ = run(client, lending.SummaryLoan, "--group-by", "owner")
    assert [r[names.index("key")] for r in rows] == [personas.PROJECT_A]
    with pytest.raises(exceptions.CommandError, match="1 of 1 accelerator pools failed"):
        run(client, lending.DeletePool, "team-a")  # the loan is still open


def test_an_unknown_pool_name_is_a_command_error(client, db):
    with pytest.raises(Exception, match="No accelerator pool named 'nope'"):
        run(client, lending.ShowPool, "nope")
