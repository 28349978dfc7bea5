"""The accelerator requests story: create (fan-out), show, list with each filter, bind and
unbind, the service-token gate, ownership between projects, delete in all its spellings,
microversion 2.1 and Nova's whole call sequence (contract §10, §12)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from cyborg_lite.db import models
from tests import personas, seed
from tests.functional.envelope import message

ARQS = "/v2/accelerator_requests"
GROUPS = [
    {"resources:PGPU": "2", "trait:CUSTOM_NVIDIA_2330": "required"},
    {"resources:CUSTOM_QAT": "1"},
]
GATE = (
    "This operation requires a service token. Use the Compute API to manage instance accelerators."
)


@pytest.fixture
def profile(client, db):
    made = client.simulate_post("/v2/device_profiles", json=[{"name": "gpu", "groups": GROUPS}])
    assert made.status_code == 201
    one = client.simulate_post(
        "/v2/device_profiles", json=[{"name": "one", "groups": [{"resources:PGPU": "1"}]}]
    )
    assert one.status_code == 201
    return made.json


@pytest.fixture
def gpu(db):
    """One GPU deployable with two free PCI attach handles."""
    return seed.device(db, handles=2)


def create(client, name="one", headers=personas.MEMBER):
    result = client.simulate_post(ARQS, json={"device_profile_name": name}, headers=headers)
    assert result.status_code == 201, result.text
    return result.json["arqs"]


def bind_ops(rp_uuid, instance, host="compute1"):
    return [
        {"op": "add", "path": "/hostname", "value": host},
        {"op": "add", "path": "/device_rp_uuid", "value": rp_uuid},
        {"op": "add", "path": "/instance_uuid", "value": instance},
    ]


UNBIND_OPS = [
    {"op": "remove", "path": "/hostname"},
    {"op": "remove", "path": "/device_rp_uuid"},
    {"op": "remove", "path": "/instance_uuid"},
]


def patch(client, body, headers=personas.NOVA, path=ARQS):
    return client.simulate_patch(path, json=body, headers=headers)


def show(client, arq_uuid, headers=personas.MEMBER):
    return client.simulate_get(f"{ARQS}/{arq_uuid}", headers=headers)


def handles_in_use(db):
    with db.transaction() as s:
        return s.scalar(sa.select(sa.func.count()).where(models.AttachHandle.in_use.is_(True)))


# Create and read


def test_create_fans_out_per_group(client, profile):
    result = client.simulate_post(
        ARQS, json={"device_profile_name": "gpu"}, headers={**personas.MEMBER, "Host": "h"}
    )
    assert result.status_code == 201
    assert list(result.json) == ["arqs"]
    arqs = result.json["arqs"]
    assert [a["device_profile_group_id"] for a in arqs] == [0, 0, 1]
    assert len({a["uuid"] for a in arqs}) == 3
    first = arqs[0]
    assert list(first) == [
        "uuid",
        "state",
        "device_profile_name",
        "device_profile_group_id",
        "hostname",
        "device_rp_uuid",
        "instance_uuid",
        "project_id",
        "attach_handle_type",
        "attach_handle_uuid",
        "attach_handle_info",
        "links",
        "created_at",
        "updated_at",
    ]
    assert first["state"] == "Initial"
    assert first["device_profile_name"] == "gpu"
    assert first["project_id"] == personas.PROJECT_A
    assert (first["hostname"], first["device_rp_uuid"], first["instance_uuid"]) == (None,) * 3
    assert (first["attach_handle_type"], first["attach_handle_uuid"]) == ("", None)
    assert first["attach_handle_info"] == {}
    assert first["links"] == [{"href": f"http://h{ARQS}/{first['uuid']}", "rel": "self"}]
    assert first["created_at"].endswith("+00:00")
    assert first["updated_at"] is None


def test_create_ignores_other_keys(client, profile):
    body = {"device_profile_name": "one", "device_profile_group_id": None, "image_uuid": None}
    result = client.simulate_post(ARQS, json=body, headers=personas.MEMBER)
    assert result.status_code == 201
    assert len(result.json["arqs"]) == 1


@pytest.mark.parametrize("name", ["nope", "", "!@#$%^&*()=-[]"])
def test_create_with_unknown_profile_is_404(client, profile, name):
    result = client.simulate_post(ARQS, json={"device_profile_name": name})
    assert result.status_code == 404
    assert message(result) == f"Device Profile not found with name={name}"


@pytest.mark.parametrize("body", [{}, [], {"device_profile_name": 3}, {"name": "one"}, "one"])
def test_create_with_bad_body_is_400(client, profile, body):
    result = client.simulate_post(ARQS, json=body)
    assert result.status_code == 400
    assert message(result).startswith("Invalid input")


def test_show_is_bare(client, profile):
    made = create(client)[0]
    result = show(client, made["uuid"])
    assert result.status_code == 200
    assert result.json == made


def test_show_unknown_and_malformed(client, profile):
    missing = str(uuid.uuid4())
    result = show(client, missing)
    assert result.status_code == 404
    assert message(result) == f"ExtArq not found with uuid={missing}"
    bad = show(client, "xyz")
    assert bad.status_code == 400
    assert "Value: 'xyz'. unable to convert to uuid" in message(bad)


# Bind and unbind


def test_bind_then_unbind(client, profile, gpu, db):
    arq = create(client)[0]
    instance = str(uuid.uuid4())
    result = patch(client, {arq["uuid"]: bind_ops(gpu["rp_uuid"], instance)})
    assert result.status_code == 202
    assert result.content == b""
    bound = show(client, arq["uuid"]).json
    assert bound["state"] == "Bound"
    assert (bound["hostname"], bound["device_rp_uuid"], bound["instance_uuid"]) == (
        "compute1",
        gpu["rp_uuid"],
        instance,
    )
    assert bound["attach_handle_type"] == "PCI"
    assert bound["attach_handle_info"] == {
        "domain": "0000",
        "bus": "3b",
        "device": "00",
        "function": "0",
    }
    assert uuid.UUID(bound["attach_handle_uuid"])
    assert bound["updated_at"] is not None
    assert handles_in_use(db) == 1

    result = patch(client, {arq["uuid"]: UNBIND_OPS})
    assert result.status_code == 202
    unbound = show(client, arq["uuid"]).json
    assert unbound["state"] == "Unbound"
    assert (unbound["hostname"], unbound["device_rp_uuid"], unbound["instance_uuid"]) == (
        None,
        None,
        None,
    )
    assert (unbound["attach_handle_type"], unbound["attach_handle_info"]) == ("", {})
    assert handles_in_use(db) == 0
    # An Unbound ARQ may be bound again, even to the same instance.
    assert patch(client, {arq["uuid"]: bind_ops(gpu["rp_uuid"], instance)}).status_code == 202
    assert show(client, arq["uuid"]).json["state"] == "Bound"


def test_patch_on_item_path_uses_body_keys(client, profile, gpu):
    first, second = create(client)[0], create(client)[0]
    body = {second["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))}
    assert patch(client, body, path=f"{ARQS}/{first['uuid']}").status_code == 202
    assert show(client, first["uuid"]).json["state"] == "Initial"
    assert show(client, second["uuid"]).json["state"] == "Bound"


def test_unbind_of_initial_arq_gives_unbound(client, profile):
    arq = create(client)[0]
    assert patch(client, {arq["uuid"]: UNBIND_OPS}).status_code == 202
    assert show(client, arq["uuid"]).json["state"] == "Unbound"
    assert patch(client, {arq["uuid"]: UNBIND_OPS}).status_code == 202


def test_bind_fails_when_handles_run_out(client, profile, gpu, db):
    arqs = [create(client)[0] for _ in range(3)]
    body = {a["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4())) for a in arqs}
    assert patch(client, body).status_code == 202
    states = [show(client, a["uuid"]).json for a in arqs]
    assert [s["state"] for s in states] == ["Bound", "Bound", "BindFailed"]
    assert states[0]["attach_handle_uuid"] != states[1]["attach_handle_uuid"]
    assert (states[2]["attach_handle_type"], states[2]["attach_handle_info"]) == ("", {})
    assert handles_in_use(db) == 2


def test_bind_fails_without_deployable_or_in_maintenance(client, profile, gpu):
    nowhere, maintained = create(client)[0], create(client)[0]
    patch(client, {nowhere["uuid"]: bind_ops(str(uuid.uuid4()), str(uuid.uuid4()))})
    assert show(client, nowhere["uuid"]).json["state"] == "BindFailed"
    assert client.simulate_post(f"/v2/devices/{gpu['device_uuid']}/disable").status_code == 204
    patch(client, {maintained["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))})
    assert show(client, maintained["uuid"]).json["state"] == "BindFailed"


def test_bind_of_bound_arq_is_409(client, profile, gpu):
    arq = create(client)[0]
    patch(client, {arq["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))})
    result = patch(client, {arq["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))})
    assert result.status_code == 409
    assert "only Initial or Unbound requests can be bound" in message(result)


def test_bind_to_instance_with_arqs_is_400_and_changes_nothing(client, profile, gpu):
    first, second, third = (create(client)[0] for _ in range(3))
    instance = str(uuid.uuid4())
    patch(client, {first["uuid"]: bind_ops(gpu["rp_uuid"], instance)})
    body = {
        third["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4())),
        second["uuid"]: bind_ops(gpu["rp_uuid"], instance),
    }
    result = patch(client, body)
    assert result.status_code == 400
    assert message(result) == (
        f"Instance {instance} already has accelerator requests. Cannot bind additional ARQs."
    )
    assert show(client, third["uuid"]).json["state"] == "Initial"


def test_bind_of_unknown_arq_is_404(client, profile, gpu):
    missing = str(uuid.uuid4())
    result = patch(client, {missing: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))})
    assert result.status_code == 404
    assert message(result) == f"ExtArq not found with uuid={missing}"


def _ops(*pairs):
    return [{"op": op, "path": path, "value": "x"} for op, path in pairs]


@pytest.mark.parametrize(
    ("ops", "text"),
    [
        (
            _ops(("add", "/hostname"), ("remove", "/instance_uuid")),
            "Every op must be add or remove",
        ),
        (_ops(("replace", "/hostname")), "Every op must be add or remove"),
        (_ops(("remove", "/state")), "Invalid path in patch /state"),
        (_ops(("remove", "hostname")), "Invalid path in patch hostname"),
        (
            [{"op": "add", "path": "/hostname", "value": "h"}],
            "Couldn't apply patch. Reason: Fields absent in patch device_rp_uuid, instance_uuid",
        ),
        (
            [
                {"op": "add", "path": "/hostname", "value": "h"},
                {"op": "add", "path": "/device_rp_uuid", "value": "nope"},
                {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
            ],
            "device_rp_uuid. Value: 'nope'",
        ),
        (
            [
                {"op": "add", "path": "/hostname"},
                {"op": "add", "path": "/device_rp_uuid", "value": str(uuid.uuid4())},
                {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
            ],
            "/hostname needs a non-empty string value",
        ),
        ([{"path": "/hostname"}], "'op' is a required property"),
        ([], "should be non-empty"),
    ],
)
def test_bad_patch_is_400(client, profile, ops, text):
    arq = create(client)[0]
    result = patch(client, {arq["uuid"]: ops})
    assert result.status_code == 400
    assert text in message(result)
    assert show(client, arq["uuid"]).json["state"] == "Initial"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({}, "should be non-empty"),
        ([], "is not of type 'object'"),
        ({"not-a-uuid": UNBIND_OPS}, "Value: 'not-a-uuid'. unable to convert to uuid"),
    ],
)
def test_bad_patch_body_is_400(client, profile, body, text):
    result = patch(client, body)
    assert result.status_code == 400
    assert text in message(result)


def test_project_id_op_needs_2_1_and_admin(client, profile, gpu):
    arq = create(client)[0]
    ops = [*bind_ops(gpu["rp_uuid"], str(uuid.uuid4())), {"op": "add", "path": "/project_id"}]
    ops[-1]["value"] = personas.PROJECT_B
    old = patch(client, {arq["uuid"]: ops})
    assert old.status_code == 406
    assert message(old) == "Request not acceptable. The minimal required API version should be 2.1"
    nova_21 = {**personas.NOVA, "OpenStack-API-Version": "accelerator 2.1"}
    assert patch(client, {arq["uuid"]: ops}, headers=nova_21).status_code == 403
    admin_21 = personas.headers("admin", service=True, version="2.1")
    assert patch(client, {arq["uuid"]: ops}, headers=admin_21).status_code == 202
    moved = show(client, arq["uuid"], headers=personas.ADMIN).json
    assert (moved["state"], moved["project_id"]) == ("Bound", personas.PROJECT_B)
    assert show(client, arq["uuid"]).status_code == 404


# The service-token gate (§9.3)


@pytest.mark.parametrize("ops", ["bind", "unbind"])
@pytest.mark.parametrize("persona", [personas.MEMBER, personas.ADMIN])
def test_bind_and_unbind_need_a_service_token(client, profile, gpu, ops, persona):
    arq = create(client)[0]
    body = {
        arq["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4())) if ops == "bind" else UNBIND_OPS
    }
    result = patch(client, body, headers=persona)
    assert result.status_code == 403
    assert message(result) == GATE
    assert show(client, arq["uuid"]).json["state"] == "Initial"


def test_deleting_a_bound_arq_needs_a_service_token(client, profile, gpu, db):
    arq = create(client)[0]
    patch(client, {arq["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))})
    for path, query in ((f"{ARQS}/{arq['uuid']}", None), (ARQS, f"arqs={arq['uuid']}")):
        result = client.simulate_delete(path, query_string=query, headers=personas.MEMBER)
        assert result.status_code == 403
        assert message(result) == GATE
    assert show(client, arq["uuid"]).json["state"] == "Bound"
    result = client.simulate_delete(f"{ARQS}/{arq['uuid']}", headers=personas.NOVA)
    assert result.status_code == 204
    assert handles_in_use(db) == 0


def test_delete_by_instance_always_needs_a_service_token(client, profile):
    result = client.simulate_delete(
        ARQS, query_string=f"instance={uuid.uuid4()}", headers=personas.ADMIN
    )
    assert result.status_code == 403
    assert message(result) == GATE


def test_a_service_token_alone_binds_unbinds_and_deletes_with_noauth(client, profile, gpu, db):
    # A Nova-like caller in noauth mode sends only what keystonemiddleware sets for its service
    # token: it acts as the default identity plus the service role, never with fewer rights.
    nova_only = {"X-Service-Roles": "service", "X-Service-Token": "nova-token"}
    instance = str(uuid.uuid4())
    arqs = [create(client, headers=nova_only)[0] for _ in range(3)]
    bound = patch(client, {arqs[0]["uuid"]: bind_ops(gpu["rp_uuid"], instance)}, headers=nova_only)
    assert bound.status_code == 202, bound.text
    assert show(client, arqs[0]["uuid"], headers=nova_only).json["state"] == "Bound"
    unbound = patch(client, {arqs[0]["uuid"]: UNBIND_OPS}, headers=nova_only)
    assert unbound.status_code == 202, unbound.text
    assert show(client, arqs[0]["uuid"], headers=nova_only).json["state"] == "Unbound"
    patch(client, {arqs[1]["uuid"]: bind_ops(gpu["rp_uuid"], instance)}, headers=nova_only)
    deleted = [
        client.simulate_delete(ARQS, query_string=f"instance={instance}", headers=nova_only),
        client.simulate_delete(ARQS, query_string=f"arqs={arqs[0]['uuid']}", headers=nova_only),
        client.simulate_delete(f"{ARQS}/{arqs[2]['uuid']}", headers=nova_only),
    ]
    assert [d.status_code for d in deleted] == [204, 204, 204]
    assert client.simulate_get(ARQS, headers=nova_only).json["arqs"] == []
    assert handles_in_use(db) == 0


# List filters


@pytest.fixture
def mixed(client, profile, gpu):
    """Instance X: one Bound and one BindFailed ARQ; instance Y: one Bound; one Initial."""
    x, y = str(uuid.uuid4()), str(uuid.uuid4())
    arqs = [create(client)[0] for _ in range(4)]
    both = {
        arqs[0]["uuid"]: bind_ops(gpu["rp_uuid"], x),
        arqs[1]["uuid"]: bind_ops(str(uuid.uuid4()), x),
    }
    assert patch(client, both).status_code == 202
    assert patch(client, {arqs[3]["uuid"]: bind_ops(gpu["rp_uuid"], y)}).status_code == 202
    return {"x": x, "y": y, "uuids": [a["uuid"] for a in arqs]}


def _listed(client, query, headers=personas.MEMBER):
    result = client.simulate_get(ARQS, query_string=query, headers=headers)
    assert result.status_code == 200, result.text
    # Cyborg's shape; a full page adds only the way to the next one.
    assert list(result.json) in (["arqs"], ["arqs", "arqs_links"])
    if "limit" in query and len(result.json["arqs"]) == int(query.split("limit=")[1][:1]):
        (link,) = result.json["arqs_links"]
        assert link["rel"] == "next"
        assert f"marker={result.json['arqs'][-1]['uuid']}" in link["href"]
    else:
        assert "arqs_links" not in result.json
    return [a["uuid"] for a in result.json["arqs"]]


def test_list_filters(client, mixed):
    u = mixed["uuids"]
    assert _listed(client, "") == u
    assert _listed(client, f"instance={mixed['x']}") == [u[0], u[1]]
    assert _listed(client, "bind_state=resolved") == [u[0], u[1], u[3]]
    assert _listed(client, f"instance={mixed['x']}&bind_state=resolved") == [u[0], u[1]]
    assert _listed(client, f"instance={uuid.uuid4()}") == []
    assert _listed(client, "limit=2") == u[:2]
    assert _listed(client, f"limit=2&marker={u[1]}") == u[2:]


def test_list_resolved_instance_with_unresolved_arq_is_423_without_body(client, mixed, db):
    with db.transaction() as s:
        s.execute(
            sa.update(models.AcceleratorRequest)
            .where(models.AcceleratorRequest.uuid == mixed["uuids"][1])
            .values(state="BindStarted")
        )
    result = client.simulate_get(
        ARQS, query_string=f"instance={mixed['x']}&bind_state=resolved", headers=personas.MEMBER
    )
    assert result.status_code == 423
    assert result.content == b""
    # Without bind_state the same instance lists fine.
    assert len(_listed(client, f"instance={mixed['x']}")) == 2


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("instance=xyz", "field/attribute instance. Value: 'xyz'"),
        ("bind_state=Bound", "Invalid bind_state 'Bound'"),
        ("state=Bound", 'Unknown argument: "state"'),
    ],
)
def test_bad_list_query_is_400(client, profile, query, text):
    result = client.simulate_get(ARQS, query_string=query)
    assert result.status_code == 400
    assert text in message(result)


# Ownership and policy


def test_projects_see_only_their_own_arqs(client, profile, gpu):
    mine = create(client)[0]
    theirs = create(client, headers=personas.MEMBER_B)[0]
    assert _listed(client, "") == [mine["uuid"]]
    assert _listed(client, "", headers=personas.READER) == [mine["uuid"]]
    assert _listed(client, "", headers=personas.MEMBER_B) == [theirs["uuid"]]
    assert _listed(client, "", headers=personas.ADMIN) == [mine["uuid"], theirs["uuid"]]
    assert show(client, theirs["uuid"]).status_code == 404
    assert show(client, theirs["uuid"], headers=personas.ADMIN).status_code == 200
    nova_b = personas.headers("member", personas.PROJECT_B, service=True)
    bound = patch(client, {mine["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))}, nova_b)
    assert bound.status_code == 404
    gone = client.simulate_delete(f"{ARQS}/{mine['uuid']}", headers=personas.MEMBER_B)
    assert gone.status_code == 404
    assert show(client, mine["uuid"]).status_code == 200


@pytest.mark.parametrize(
    ("persona", "create_status", "read_status"),
    [
        (personas.ADMIN, 201, 200),
        (personas.MANAGER, 201, 200),
        (personas.MEMBER, 201, 200),
        (personas.NOVA, 201, 200),
        (personas.SERVICE, 201, 403),
        (personas.READER, 403, 200),
        (personas.SYSTEM_ADMIN, 403, 403),
    ],
)
def test_policy_per_persona(client, profile, persona, create_status, read_status):
    made = client.simulate_post(ARQS, json={"device_profile_name": "one"}, headers=persona)
    assert made.status_code == create_status
    if create_status == 403:
        assert message(made) == "Access was denied to the following resource: cyborg:arq:create"
    assert client.simulate_get(ARQS, headers=persona).status_code == read_status


def test_service_user_deletes_its_unbound_arq(client, profile):
    arq = create(client, headers=personas.SERVICE)[0]
    assert (
        client.simulate_delete(f"{ARQS}/{arq['uuid']}", headers=personas.SERVICE).status_code == 204
    )


def test_reader_cannot_bind_or_delete(client, profile, gpu):
    arq = create(client)[0]
    reader = personas.headers("reader", service=True)
    body = {arq["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))}
    assert message(patch(client, body, reader)).endswith("cyborg:arq:update")
    gone = client.simulate_delete(f"{ARQS}/{arq['uuid']}", headers=reader)
    assert message(gone).endswith("cyborg:arq:delete")
    assert show(client, arq["uuid"]).status_code == 200


# Delete


def test_delete_by_uuid_list(client, profile):
    arqs = [create(client)[0] for _ in range(3)]
    query = f"arqs={arqs[0]['uuid']},{arqs[2]['uuid']}"
    result = client.simulate_delete(ARQS, query_string=query, headers=personas.MEMBER)
    assert result.status_code == 204
    assert result.content == b""
    assert _listed(client, "") == [arqs[1]["uuid"]]


def test_delete_with_a_missing_uuid_deletes_the_others_then_404(client, profile):
    arq = create(client)[0]
    missing = str(uuid.uuid4())
    result = client.simulate_delete(
        ARQS, query_string=f"arqs={missing},{arq['uuid']}", headers=personas.MEMBER
    )
    assert result.status_code == 404
    assert message(result) == f"ExtArq not found with uuid={missing}"
    assert _listed(client, "") == []


def test_delete_unknown_item_is_404(client, profile):
    missing = str(uuid.uuid4())
    result = client.simulate_delete(f"{ARQS}/{missing}")
    assert result.status_code == 404
    assert message(result) == f"ExtArq not found with uuid={missing}"


@pytest.mark.parametrize(
    ("query", "text"),
    [
        (None, "exactly one of"),
        (f"arqs={uuid.uuid4()}&instance={uuid.uuid4()}", "exactly one of"),
        ("arqs=", "no uuid given"),
        ("arqs=nope", "Value: 'nope'"),
        ("instance=nope", "Value: 'nope'"),
        ("uuid=x", 'Unknown argument: "uuid"'),
    ],
)
def test_bad_delete_is_400(client, profile, query, text):
    arq = create(client)[0]
    result = client.simulate_delete(ARQS, query_string=query, headers=personas.NOVA)
    assert result.status_code == 400
    assert text in message(result)
    assert show(client, arq["uuid"]).status_code == 200


# Nova (§12)


def test_nova_call_sequence(client, gpu, db):
    """Server create to server delete, as nova/accelerator/cyborg.py makes the calls."""
    made = client.simulate_post(
        "/v2/device_profiles",
        json=[
            {
                "name": "h100",
                "groups": [{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}],
            }
        ],
    )
    assert made.status_code == 201
    nova = personas.NOVA  # no microversion header: 2.0
    instance = str(uuid.uuid4())

    # 1. API: the flavor names the profile.
    found = client.simulate_get("/v2/device_profiles", query_string="name=h100", headers=nova)
    assert found.status_code == 200
    assert len(found.json["device_profiles"]) == 1
    groups = found.json["device_profiles"][0]["groups"]
    assert groups == [{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}]

    # 3. Conductor: create the ARQs.
    created = client.simulate_post(ARQS, json={"device_profile_name": "h100"}, headers=nova)
    assert created.status_code == 201
    arqs = created.json["arqs"]
    assert [a["device_profile_group_id"] for a in arqs] == [0]

    # 4. Conductor: bind on the collection, device_rp_uuid from Placement's mappings.
    body = {a["uuid"]: bind_ops(gpu["rp_uuid"], instance, "compute1") for a in arqs}
    assert client.simulate_patch(ARQS, json=body, headers=nova).status_code == 202

    # 6. Compute: wait for resolution, then read the attach handles.
    resolved = client.simulate_get(
        ARQS, query_string=f"instance={instance}&bind_state=resolved", headers=nova
    )
    assert resolved.status_code == 200
    (arq,) = resolved.json["arqs"]
    assert (arq["uuid"], arq["state"], arq["device_profile_group_id"]) == (
        arqs[0]["uuid"],
        "Bound",
        0,
    )
    assert arq["device_rp_uuid"] == gpu["rp_uuid"]
    assert arq["attach_handle_type"] == "PCI"
    assert arq["attach_handle_info"] == {
        "domain": "0000",
        "bus": "3b",
        "device": "00",
        "function": "0",
    }
    assert handles_in_use(db) == 1

    # 8a. Delete the server: delete by instance, twice (idempotent).
    for _ in range(2):
        result = client.simulate_delete(ARQS, query_string=f"instance={instance}", headers=nova)
        assert result.status_code == 204
        assert result.content == b""
    assert client.simulate_get(ARQS, query_string=f"instance={instance}", headers=nova).json == {
        "arqs": []
    }
    assert handles_in_use(db) == 0
