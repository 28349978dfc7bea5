"""The device profiles story: create, show, list by name, conflicts, every bad input of the
contract (§8), delete in all its spellings, microversion 2.2 and policy per persona."""

from __future__ import annotations

import uuid

import pytest

from tests import personas
from tests.functional.envelope import message

GPU_GROUPS = [
    {"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"},
    {"resources:CUSTOM_QAT": "2", "trait:CUSTOM_SLOW": "forbidden", "accel:function_id": "x"},
]


def create(client, name="gpu", groups=None, headers=None, **extra):
    body = [{"name": name, "groups": groups or GPU_GROUPS, **extra}]
    return client.simulate_post("/v2/device_profiles", json=body, headers=headers)


@pytest.fixture
def gpu(client, db):
    result = create(client, description="one H100")
    assert result.status_code == 201
    return result.json


def test_create_answers_the_bare_profile(client, db):
    result = create(client, description="one H100", headers={"Host": "h"})
    assert result.status_code == 201
    body = result.json
    assert set(body) == {
        "uuid",
        "name",
        "description",
        "groups",
        "links",
        "created_at",
        "updated_at",
    }
    assert body["name"] == "gpu"
    assert body["description"] == "one H100"
    assert body["groups"] == GPU_GROUPS
    assert body["links"] == [{"href": f"http://h/v2/device_profiles/{body['uuid']}", "rel": "self"}]
    assert "T" in body["created_at"]
    assert body["created_at"].endswith("+00:00")
    assert body["updated_at"] is None


def test_show_is_wrapped_and_keeps_group_order(client, gpu):
    result = client.simulate_get(f"/v2/device_profiles/{gpu['uuid']}")
    assert result.status_code == 200
    assert list(result.json) == ["device_profile"]
    assert result.json["device_profile"] == gpu
    assert [list(g) for g in result.json["device_profile"]["groups"]] == [
        list(g) for g in GPU_GROUPS
    ]


def test_description_null_as_the_cli_sends_it(client, db):
    result = create(client, description=None)
    assert result.status_code == 201
    assert result.json["description"] is None


def test_whitespace_in_resource_and_trait_names_is_removed(client, db):
    groups = [{"resources: CUSTOM_ FPGA": "1", "trait:CUSTOM_A B": "required", "accel:x y": "1"}]
    result = create(client, groups=groups)
    assert result.status_code == 201
    assert result.json["groups"] == [
        {"resources:CUSTOM_FPGA": "1", "trait:CUSTOM_AB": "required", "accel:x y": "1"}
    ]


def test_client_uuid_is_kept_and_reuse_is_409(client, db):
    given = str(uuid.uuid4())
    assert create(client, name="one", uuid=given).json["uuid"] == given
    again = create(client, name="two", uuid=given)
    assert again.status_code == 409
    assert message(again) == f"A device_profile with uuid {given} already exists."


def test_duplicate_name_is_409(client, gpu):
    result = create(client)
    assert result.status_code == 409
    assert message(result) == "A device_profile with name gpu already exists."


def _one(**fields):
    profile = {"name": "p", "groups": [{"resources:FPGA": "1"}]}
    profile.update(fields)
    return [{k: v for k, v in profile.items() if v is not _DROP}]


_DROP = object()


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"name": "p", "groups": [{"resources:FPGA": "1"}]}, "JSON list"),
        ([], "Only one device profile allowed per POST request for now."),
        (_one() + _one(name="q"), "Only one device profile allowed per POST request for now."),
        (_one(name=_DROP), "'name' is a required property"),
        (_one(name=""), "name"),
        (_one(name="a b"), 'Device profile name "a b" is invalid'),
        (_one(name="a!"), "is invalid"),
        (_one(name="abc\n"), "is invalid"),
        (_one(name="x" * 256), "is too long"),
        (_one(name=7), "name"),
        (_one(groups=_DROP), "'groups' is a required property"),
        (_one(groups=[]), "groups"),
        (_one(groups="resources:FPGA"), "groups"),
        (_one(groups=["resources:FPGA"]), "groups/0"),
        (_one(groups=[{"resources:FPGA": 1}]), "groups/0/resources:FPGA"),
        (_one(groups=[{"FPGA": "1"}]), 'Invalid key "FPGA" in group 0'),
        (_one(groups=[{"resource:FPGA": "1"}]), 'Invalid key "resource:FPGA"'),
        (_one(groups=[{"resources:NOPE": "1"}]), 'Unsupported resource class "NOPE"'),
        (_one(groups=[{"resources:custom_x": "1"}]), 'Unsupported resource class "custom_x"'),
        (_one(groups=[{"resources:FPGA": "one"}]), "positive integer string"),
        (_one(groups=[{"resources:FPGA": "0"}]), "positive integer string"),
        (_one(groups=[{"resources:FPGA": "-1"}]), "positive integer string"),
        (_one(groups=[{"trait:OWNER_CYBORG": "required"}]), 'Trait "OWNER_CYBORG"'),
        (_one(groups=[{"trait:CUSTOM_X": "preferred"}]), '"required" or "forbidden"'),
        (
            _one(groups=[{"resources:FPGA": "1", "resources: FPGA": "2"}]),
            'Key "resources:FPGA" appears twice',
        ),
        (_one(uuid="not-a-uuid"), "Value: 'not-a-uuid'. unable to convert to uuid"),
        (_one(description=5), "description"),
    ],
)
def test_bad_create_is_400(client, db, body, text):
    result = client.simulate_post("/v2/device_profiles", json=body)
    assert result.status_code == 400
    assert text in message(result)
    assert client.simulate_get("/v2/device_profiles").json == {"device_profiles": []}


@pytest.mark.parametrize(("raw", "text"), [(b"", "body is required"), (b"[{", "Malformed JSON")])
def test_unreadable_body_is_400(client, db, raw, text):
    result = client.simulate_post(
        "/v2/device_profiles", body=raw, headers={"Content-Type": "application/json"}
    )
    assert result.status_code == 400
    assert text in message(result)


@pytest.fixture
def three(client, db):
    return [create(client, name=n).json for n in ("a", "b", "c")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", ["a", "b", "c"]), ("name=b", ["b"]), ("name=a,c", ["a", "c"]), ("name=zzz", [])],
)
def test_list_by_name(client, three, query, expected):
    result = client.simulate_get("/v2/device_profiles", query_string=query)
    assert result.status_code == 200
    assert list(result.json) == ["device_profiles"]
    assert [p["name"] for p in result.json["device_profiles"]] == expected


def test_list_pages_with_limit_and_marker(client, three):
    first = client.simulate_get("/v2/device_profiles", query_string="limit=2")
    assert [p["name"] for p in first.json["device_profiles"]] == ["a", "b"]
    assert f"marker={three[1]['uuid']}" in first.headers["link"]
    rest = client.simulate_get(
        "/v2/device_profiles", query_string=f"limit=2&marker={three[1]['uuid']}"
    )
    assert [p["name"] for p in rest.json["device_profiles"]] == ["c"]


def test_list_unknown_argument_is_400(client, db):
    result = client.simulate_get("/v2/device_profiles", query_string="colour=red")
    assert result.status_code == 400
    assert message(result) == 'Unknown argument: "colour"'


def test_show_by_name_needs_2_2(client, gpu):
    below = client.simulate_get("/v2/device_profiles/gpu", headers={"OpenStack-API-Version": "2.1"})
    assert below.status_code == 406
    assert (
        message(below) == "Request not acceptable. The minimal required API version should be 2.2"
    )
    at = client.simulate_get(
        "/v2/device_profiles/gpu", headers={"OpenStack-API-Version": "accelerator 2.2"}
    )
    assert at.status_code == 200
    assert at.json["device_profile"]["uuid"] == gpu["uuid"]


def test_show_unknown(client, db):
    missing = str(uuid.uuid4())
    by_uuid = client.simulate_get(f"/v2/device_profiles/{missing}")
    assert by_uuid.status_code == 404
    assert message(by_uuid) == f"Device Profile not found with uuid={missing}"
    by_name = client.simulate_get(
        "/v2/device_profiles/nope", headers={"OpenStack-API-Version": "accelerator latest"}
    )
    assert by_name.status_code == 404
    assert message(by_name) == "Device Profile not found with name=nope"


def test_unversioned_path(client, gpu):
    assert client.simulate_get("/device_profiles").json["device_profiles"] == [gpu]


def _names(client):
    return [p["name"] for p in client.simulate_get("/v2/device_profiles").json["device_profiles"]]


def test_delete_by_uuid(client, three):
    result = client.simulate_delete(f"/v2/device_profiles/{three[0]['uuid']}")
    assert result.status_code == 204
    assert result.content == b""
    assert _names(client) == ["b", "c"]
    again = client.simulate_delete(f"/v2/device_profiles/{three[0]['uuid']}")
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("path", "query", "left"),
    [
        ("/v2/device_profiles/b", None, ["a", "c"]),
        ("/v2/device_profiles/a,c", None, ["b"]),
        ("/v2/device_profiles", "value=a,b", ["c"]),
        ("/device_profiles/c", None, ["a", "b"]),
    ],
)
def test_delete_by_names(client, three, path, query, left):
    result = client.simulate_delete(path, query_string=query)
    assert result.status_code == 204
    assert _names(client) == left


@pytest.mark.parametrize(
    ("path", "query"),
    [("/v2/device_profiles/a,nope", None), ("/v2/device_profiles", "value=nope,b")],
)
def test_delete_with_a_missing_name_is_404_and_deletes_nothing(client, three, path, query):
    result = client.simulate_delete(path, query_string=query)
    assert result.status_code == 404
    assert message(result) == "Device Profile not found with name=nope"
    assert _names(client) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v2/device_profiles", None),
        ("/v2/device_profiles/", None),
        ("/v2/device_profiles", "value="),
    ],
)
def test_delete_naming_nothing_is_400(client, three, path, query):
    result = client.simulate_delete(path, query_string=query)
    assert result.status_code == 400
    assert "Name the device profiles to delete" in message(result)
    assert _names(client) == ["a", "b", "c"]


def test_delete_unknown_argument_is_400(client, three):
    result = client.simulate_delete("/v2/device_profiles", query_string="name=a")
    assert result.status_code == 400
    assert message(result) == 'Unknown argument: "name"'


def test_delete_while_arqs_use_it_is_409(client, gpu):
    made = client.simulate_post("/v2/accelerator_requests", json={"device_profile_name": "gpu"})
    assert made.status_code == 201
    result = client.simulate_delete("/v2/device_profiles/gpu")
    assert result.status_code == 409
    assert "in use by accelerator requests" in message(result)
    for arq in made.json["arqs"]:
        client.simulate_delete(f"/v2/accelerator_requests/{arq['uuid']}")
    assert client.simulate_delete("/v2/device_profiles/gpu").status_code == 204


@pytest.mark.parametrize(
    ("persona", "can_read"),
    [
        (personas.ADMIN, True),
        (personas.MANAGER, True),
        (personas.MEMBER, True),
        (personas.READER, True),
        (personas.MEMBER_B, True),
        (personas.SERVICE, False),
        (personas.SYSTEM_ADMIN, False),
    ],
)
def test_read_policy(client, gpu, persona, can_read):
    listed = client.simulate_get("/v2/device_profiles", headers=persona)
    shown = client.simulate_get(f"/v2/device_profiles/{gpu['uuid']}", headers=persona)
    if can_read:
        assert listed.json == {"device_profiles": [gpu]}
        assert shown.json == {"device_profile": gpu}
    else:
        assert (listed.status_code, shown.status_code) == (403, 403)
        assert message(listed) == (
            "Access was denied to the following resource: cyborg:device_profile:get_all"
        )


@pytest.mark.parametrize(
    "persona", [personas.MANAGER, personas.MEMBER, personas.READER, personas.NOVA]
)
def test_only_admin_creates_and_deletes(client, gpu, persona):
    made = create(client, name="mine", headers=persona)
    assert made.status_code == 403
    assert (
        message(made) == "Access was denied to the following resource: cyborg:device_profile:create"
    )
    gone = client.simulate_delete(f"/v2/device_profiles/{gpu['uuid']}", headers=persona)
    assert gone.status_code == 403
    assert _names(client) == ["gpu"]
    assert create(client, name="mine", headers=personas.ADMIN).status_code == 201
