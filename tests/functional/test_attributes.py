"""The attributes story: list and filter, show, create (bare, wrapped, by uuid), delete."""

from __future__ import annotations

import uuid

import pytest

from tests import personas, seed
from tests.functional.envelope import message


@pytest.fixture
def fleet(db):
    return [
        seed.device(db, pci="0000:3b:00.0", traits=("OWNER_CYBORG",)),
        seed.device(db, pci="0000:5e:00.0", rc="FPGA", traits=("CUSTOM_FPGA_INTEL",)),
    ]


def _listed(client, query=""):
    result = client.simulate_get("/v2/attributes", query_string=query)
    assert result.status_code == 200
    assert list(result.json) == ["attributes"]
    return result.json["attributes"]


def test_list_all_in_order(client, fleet):
    found = _listed(client)
    assert [(a["deployable_id"], a["key"], a["value"]) for a in found] == [
        (fleet[0]["deployable_id"], "rc", "PGPU"),
        (fleet[0]["deployable_id"], "trait0", "OWNER_CYBORG"),
        (fleet[1]["deployable_id"], "rc", "FPGA"),
        (fleet[1]["deployable_id"], "trait0", "CUSTOM_FPGA_INTEL"),
    ]


def test_filters(client, fleet):
    second = fleet[1]["deployable_id"]
    assert [a["value"] for a in _listed(client, f"deployable_id={second}")] == [
        "FPGA",
        "CUSTOM_FPGA_INTEL",
    ]
    assert [a["value"] for a in _listed(client, "key=rc")] == ["PGPU", "FPGA"]
    assert [a["value"] for a in _listed(client, f"key=rc&deployable_id={second}")] == ["FPGA"]
    assert _listed(client, "key=nothing") == []
    assert _listed(client, "deployable_id=999999") == []


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("deployable_id=abc", "deployable_id"),
        ("deployable_id=0", "deployable_id"),
        ("colour=red", 'Unknown argument: "colour"'),
        ("limit=-1", "limit"),
    ],
)
def test_bad_query_is_400(client, fleet, query, text):
    result = client.simulate_get("/v2/attributes", query_string=query)
    assert result.status_code == 400
    assert text in message(result)


def test_paging(client, fleet):
    first = client.simulate_get("/v2/attributes", query_string="limit=3")
    page = first.json["attributes"]
    assert len(page) == 3
    assert f"marker={page[-1]['uuid']}" in first.headers["link"]
    rest = _listed(client, f"marker={page[-1]['uuid']}")
    assert [a["value"] for a in rest] == ["CUSTOM_FPGA_INTEL"]


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("by", ["deployable_id", "deployable_uuid", "deployable_id_string"])
def test_create_show_delete(client, fleet, wrapped, by):
    # python-cyborgclient 3.0.0 sends the integer id as a string: "1".
    ref = str(fleet[0]["deployable_id"]) if by == "deployable_id_string" else fleet[0][by]
    attribute = {"deployable_id": ref, "key": "region", "value": "green"}
    body = {"attribute": attribute} if wrapped else attribute
    created = client.simulate_post("/v2/attributes", json=body, headers={"Host": "h"})
    assert created.status_code == 201
    new = created.json
    assert set(new) == {
        "uuid",
        "deployable_id",
        "key",
        "value",
        "links",
        "created_at",
        "updated_at",
    }
    assert new["deployable_id"] == fleet[0]["deployable_id"]
    assert (new["key"], new["value"]) == ("region", "green")
    assert new["links"] == [{"href": f"http://h/v2/attributes/{new['uuid']}", "rel": "self"}]
    assert new["created_at"].endswith("+00:00")
    path = f"/v2/attributes/{new['uuid']}"
    assert client.simulate_get(path, headers={"Host": "h"}).json == new
    # Placement is untouched, but the deployable shows the new attribute.
    dep = client.simulate_get(f"/v2/deployables/{fleet[0]['deployable_uuid']}").json
    assert dep["attributes_list"].endswith('{"region": "green"}]')
    deleted = client.simulate_delete(path)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.simulate_get(path).status_code == 404
    assert client.simulate_delete(path).status_code == 404


def test_duplicate_key_is_409(client, fleet):
    body = {"deployable_id": fleet[0]["deployable_uuid"], "key": "rc", "value": "OTHER"}
    result = client.simulate_post("/v2/attributes", json=body)
    assert result.status_code == 409
    assert message(result) == (
        f"An attribute with key rc already exists on deployable {fleet[0]['deployable_uuid']}."
    )
    # The same key on another deployable is fine.
    other = {**body, "deployable_id": fleet[1]["deployable_id"], "key": "trait1"}
    assert client.simulate_post("/v2/attributes", json=other).status_code == 201


def test_unknown_deployable_is_400(client, fleet):
    missing = str(uuid.uuid4())
    by_uuid = client.simulate_post(
        "/v2/attributes", json={"deployable_id": missing, "key": "k", "value": "v"}
    )
    assert by_uuid.status_code == 400
    assert message(by_uuid) == (
        f"Invalid input for field/attribute deployable_id: no deployable with uuid={missing}."
    )
    by_id = client.simulate_post(
        "/v2/attributes", json={"deployable_id": 999999, "key": "k", "value": "v"}
    )
    assert by_id.status_code == 400
    assert "no deployable with id=999999" in message(by_id)
    by_string = client.simulate_post(
        "/v2/attributes", json={"deployable_id": "999999", "key": "k", "value": "v"}
    )
    assert by_string.status_code == 400
    assert "no deployable with id=999999" in message(by_string)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"key": "k", "value": "v"}, "'deployable_id' is a required property"),
        ({"deployable_id": 1, "value": "v"}, "'key' is a required property"),
        ({"deployable_id": 1, "key": "", "value": "v"}, "(at 'key')"),
        ({"deployable_id": 1, "key": "k" * 256, "value": "v"}, "(at 'key')"),
        ({"deployable_id": 1, "key": "k", "value": 5}, "(at 'value')"),
        ({"deployable_id": "dep-1", "key": "k", "value": "v"}, "(at 'deployable_id')"),
        ({"deployable_id": True, "key": "k", "value": "v"}, "(at 'deployable_id')"),
        ({"deployable_id": "0", "key": "k", "value": "v"}, "(at 'deployable_id')"),
        ({"deployable_id": "-1", "key": "k", "value": "v"}, "(at 'deployable_id')"),
        ({"deployable_id": "1.5", "key": "k", "value": "v"}, "(at 'deployable_id')"),
        ({"deployable_id": "9999999999", "key": "k", "value": "v"}, "must be <= 2147483647"),
        ({"deployable_id": 1, "key": "k", "value": "v", "x": 1}, "'x' was unexpected"),
        ({"attribute": {"key": "k"}}, "'deployable_id' is a required property"),
        ([{"deployable_id": 1, "key": "k", "value": "v"}], "is not of type 'object'"),
    ],
)
def test_bad_body_is_400(client, fleet, body, text):
    result = client.simulate_post("/v2/attributes", json=body)
    assert result.status_code == 400
    assert text in message(result)


def test_malformed_and_unknown_uuid(client, fleet):
    assert client.simulate_get("/v2/attributes/nope").status_code == 400
    missing = str(uuid.uuid4())
    result = client.simulate_get(f"/v2/attributes/{missing}")
    assert result.status_code == 404
    assert message(result) == f"Attribute not found with uuid={missing}"


@pytest.mark.parametrize(
    ("persona", "read", "write"),
    [
        (personas.ADMIN, 200, 201),
        (personas.MANAGER, 200, 403),
        (personas.MEMBER, 403, 403),
        (personas.SERVICE, 403, 403),
    ],
)
def test_policy(client, fleet, persona, read, write):
    assert client.simulate_get("/v2/attributes", headers=persona).status_code == read
    body = {"deployable_id": fleet[0]["deployable_id"], "key": "k", "value": "v"}
    created = client.simulate_post("/v2/attributes", json=body, headers=persona)
    assert created.status_code == write
    victim = _listed(client)[0]["uuid"]
    deleted = client.simulate_delete(f"/v2/attributes/{victim}", headers=persona)
    assert deleted.status_code == (204 if write == 201 else 403)
    if write == 403:
        assert message(created).endswith("cyborg:attribute:create")
        assert message(deleted).endswith("cyborg:attribute:delete")
