"""The deployables story: list, page, show, attributes_list, links, program, policy."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from cyborg_lite.db import models
from tests import personas, seed
from tests.functional.envelope import message

PROGRAM = [{"path": "/program", "op": "replace", "value": [{"image_uuid": str(uuid.uuid4())}]}]


@pytest.fixture
def fleet(db):
    return [
        seed.device(db, hostname="compute1", pci="0000:3b:00.0"),
        seed.device(
            db,
            hostname="compute1",
            type="FPGA",
            vendor="8086",
            pci="0000:5e:00.0",
            rc="FPGA",
            traits=("CUSTOM_FPGA_INTEL",),
        ),
        seed.device(db, hostname="compute2", pci="0000:3b:00.0", traits=()),
    ]


def test_list_in_order_under_one_key(client, fleet):
    result = client.simulate_get("/v2/deployables")
    assert result.status_code == 200
    assert list(result.json) == ["deployables"]
    assert [d["uuid"] for d in result.json["deployables"]] == [f["deployable_uuid"] for f in fleet]


def test_body_fields(client, fleet):
    dep = fleet[0]
    body = client.simulate_get(
        f"/v2/deployables/{dep['deployable_uuid']}", headers={"Host": "h"}
    ).json
    assert set(body) == {
        "uuid",
        "name",
        "num_accelerators",
        "device_id",
        "parent_id",
        "root_id",
        "attributes_list",
        "rp_uuid",
        "driver_name",
        "bitstream_id",
        "links",
        "created_at",
        "updated_at",
    }
    assert body["name"] == "compute1_0000:3b:00.0"
    assert body["num_accelerators"] == 1
    assert body["device_id"] == dep["device_id"]
    assert isinstance(body["device_id"], int)
    assert body["parent_id"] is None
    assert body["root_id"] is None
    assert body["rp_uuid"] == dep["rp_uuid"]
    assert body["driver_name"] == "nvidia"
    assert body["bitstream_id"] is None
    assert body["links"] == [
        {"href": f"http://h/v2/deployables/{body['uuid']}", "rel": "self"},
        {"href": f"http://h/deployables/{body['uuid']}", "rel": "bookmark"},
    ]
    assert body["created_at"].endswith("+00:00")
    assert body["updated_at"] is None


def test_attributes_list_is_a_json_string_as_cyborg_writes_it(client, fleet):
    listed = client.simulate_get("/v2/deployables").json["deployables"]
    assert listed[0]["attributes_list"] == (
        '[{"rc": "PGPU"}, {"trait0": "OWNER_CYBORG"}, {"trait1": "CUSTOM_NVIDIA_2330"}]'
    )
    assert json.loads(listed[1]["attributes_list"]) == [
        {"rc": "FPGA"},
        {"trait0": "CUSTOM_FPGA_INTEL"},
    ]
    assert json.loads(listed[2]["attributes_list"]) == [{"rc": "PGPU"}]


def test_attributes_list_empty_and_after_changes(client, db, fleet):
    with db.transaction() as s:
        s.execute(sa.delete(models.Attribute).where(models.Attribute.key != "trait0"))
    one = client.simulate_get(f"/v2/deployables/{fleet[0]['deployable_uuid']}").json
    assert one["attributes_list"] == '[{"trait0": "OWNER_CYBORG"}]'
    three = client.simulate_get(f"/v2/deployables/{fleet[2]['deployable_uuid']}").json
    assert three["attributes_list"] == "[]"


def test_paging_keeps_attributes_with_their_deployable(client, fleet):
    first = client.simulate_get("/v2/deployables", query_string="limit=1")
    assert [d["uuid"] for d in first.json["deployables"]] == [fleet[0]["deployable_uuid"]]
    assert "rel=next" in first.headers["link"]
    second = client.simulate_get(
        "/v2/deployables", query_string=f"limit=1&marker={fleet[0]['deployable_uuid']}"
    )
    (dep,) = second.json["deployables"]
    assert dep["uuid"] == fleet[1]["deployable_uuid"]
    assert json.loads(dep["attributes_list"])[0] == {"rc": "FPGA"}
    rest = client.simulate_get(
        "/v2/deployables", query_string=f"limit=5&marker={fleet[1]['deployable_uuid']}"
    )
    assert [d["uuid"] for d in rest.json["deployables"]] == [fleet[2]["deployable_uuid"]]
    assert "link" not in rest.headers


def test_empty_list(client, db):
    result = client.simulate_get("/v2/deployables")
    assert result.json == {"deployables": []}


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("filters=x", 'Unknown argument: "filters"'),
        ("limit=0", "limit"),
        ("marker=nope", "marker"),
        (f"marker={uuid.uuid4()}", "not found"),
    ],
)
def test_bad_query_is_400(client, fleet, query, text):
    result = client.simulate_get("/v2/deployables", query_string=query)
    assert result.status_code == 400
    assert text in message(result)


def test_show_unknown_is_404_and_malformed_400(client, fleet):
    missing = str(uuid.uuid4())
    result = client.simulate_get(f"/v2/deployables/{missing}")
    assert result.status_code == 404
    assert message(result) == f"Deployable not found with uuid={missing}"
    bad = client.simulate_get("/v2/deployables/xyz")
    assert bad.status_code == 400
    assert "Value: 'xyz'. unable to convert to uuid" in message(bad)


def test_unversioned_path(client, fleet):
    assert client.simulate_get("/deployables").json == client.simulate_get("/v2/deployables").json


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        (personas.ADMIN, 200),
        (personas.MANAGER, 200),
        (personas.MEMBER, 403),
        (personas.READER, 403),
        (personas.SERVICE, 403),
        (personas.SYSTEM_ADMIN, 403),
    ],
)
def test_read_policy(client, fleet, persona, status):
    result = client.simulate_get("/v2/deployables", headers=persona)
    assert result.status_code == status
    one = client.simulate_get(f"/v2/deployables/{fleet[0]['deployable_uuid']}", headers=persona)
    assert one.status_code == status
    if status == 403:
        assert message(one) == (
            "Access was denied to the following resource: cyborg:deployable:get_one"
        )


def test_program_with_an_image_not_in_the_catalog_is_400_for_every_op(client, fleet):
    # Cyborg's patch takes add, replace and remove alike; each reaches the catalog check.
    path = f"/v2/deployables/{fleet[1]['deployable_uuid']}/program"
    image = PROGRAM[0]["value"][0]["image_uuid"]
    for op in ("add", "replace", "remove"):
        result = client.simulate_patch(path, json=[{**PROGRAM[0], "op": op}])
        assert result.status_code == 400
        assert message(result) == (
            f"Cannot program: no firmware image with uuid={image} is in the catalog."
        )


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ([], "should be non-empty"),
        ({"path": "/program"}, "is not of type 'array'"),
        ([{**PROGRAM[0], "op": "move"}], "'move' is not one of"),
        ([{**PROGRAM[0], "path": "/name"}], "'/program' was expected"),
        ([{**PROGRAM[0], "path": "/uuid"}], "'/program' was expected"),
        ([{"path": "/program", "op": "replace"}], "'value' is a required property"),
        ([{**PROGRAM[0], "value": []}], "should be non-empty"),
        ([{**PROGRAM[0], "value": [{"image": "x"}]}], "'image_uuid' is a required property"),
        (
            [{**PROGRAM[0], "value": [{"image_uuid": "glance-image"}]}],
            "Invalid input for field/attribute image_uuid. Value: 'glance-image'",
        ),
    ],
)
def test_program_bad_patch_is_400(client, fleet, body, text):
    path = f"/v2/deployables/{fleet[1]['deployable_uuid']}/program"
    result = client.simulate_patch(path, json=body)
    assert result.status_code == 400
    assert text in message(result)


def test_program_unknown_deployable_is_404(client, fleet):
    missing = str(uuid.uuid4())
    result = client.simulate_patch(f"/v2/deployables/{missing}/program", json=PROGRAM)
    assert result.status_code == 404
    assert missing in message(result)


@pytest.mark.parametrize("persona", [personas.MANAGER, personas.MEMBER, personas.SERVICE])
def test_only_admin_programs(client, fleet, persona):
    path = f"/v2/deployables/{fleet[1]['deployable_uuid']}/program"
    # Policy is checked before the body: a non-admin learns nothing about validation.
    result = client.simulate_patch(path, json=[], headers=persona)
    assert result.status_code == 403
    assert message(result) == (
        "Access was denied to the following resource: cyborg:deployable:program"
    )


def _statements_for_list(client, db):
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.simulate_get("/v2/deployables").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


def test_attributes_load_in_one_query_per_page(client, db):
    seed.device(db, pci="0000:01:00.0")
    one = _statements_for_list(client, db)
    for n in range(2, 6):
        seed.device(db, pci=f"0000:0{n}:00.0")
    many = _statements_for_list(client, db)
    assert len(many) == len(one) == 2
