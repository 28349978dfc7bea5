"""Real device profile and ARQ responses, successes and errors, validate against the OpenAPI
document (route coverage and reference checks are in ``test_openapi.py``)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from cyborg_lite.db import models
from tests import personas, seed
from tests.functional.test_openapi import check_response

DP = "/v2/device_profiles"
DP_ITEM = "/v2/device_profiles/{value}"
ARQ = "/v2/accelerator_requests"
ARQ_ITEM = "/v2/accelerator_requests/{uuid}"


def _run(client, story):
    statuses = []
    for method, template, path, kwargs in story:
        result = client.simulate_request(method.upper(), path, **kwargs)
        statuses.append(result.status_code)
        check_response(template, method, result)
    return statuses


def test_device_profile_responses_validate(client, db):
    groups = [{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}]
    body = [{"name": "h100", "groups": groups, "description": None}]
    made = client.simulate_post(DP, json=body)
    check_response(DP, "post", made)
    item = f"{DP}/{made.json['uuid']}"
    v22 = {"headers": {"OpenStack-API-Version": "accelerator 2.2"}}
    story: list[tuple[str, str, str, dict[str, Any]]] = [
        ("post", DP, DP, {"json": body}),
        ("post", DP, DP, {"json": [{"name": "x", "groups": []}]}),
        ("post", DP, DP, {"json": body, "headers": personas.MEMBER}),
        ("get", DP, DP, {"query_string": "name=h100,zzz"}),
        ("get", DP, DP, {"query_string": "limit=1"}),
        ("get", DP, DP, {"query_string": "bogus=1"}),
        ("get", DP_ITEM, item, {}),
        ("get", DP_ITEM, f"{DP}/h100", {}),
        ("get", DP_ITEM, f"{DP}/h100", v22),
        ("get", DP_ITEM, f"{DP}/{uuid.uuid4()}", {}),
        ("delete", DP, DP, {}),
        ("delete", DP, DP, {"query_string": "value=zzz"}),
        ("delete", DP_ITEM, f"{DP}/h100", {}),
    ]
    assert _run(client, story) == [409, 400, 403, 200, 200, 400, 200, 406, 200, 404, 400, 404, 204]


def test_arq_responses_validate(client, db):
    gpu = seed.device(db)
    client.simulate_post(DP, json=[{"name": "one", "groups": [{"resources:PGPU": "1"}]}])
    made = client.simulate_post(ARQ, json={"device_profile_name": "one"})
    check_response(ARQ, "post", made)
    arq = made.json["arqs"][0]["uuid"]
    instance = str(uuid.uuid4())
    bind = {
        arq: [
            {"op": "add", "path": "/hostname", "value": "compute1"},
            {"op": "add", "path": "/device_rp_uuid", "value": gpu["rp_uuid"]},
            {"op": "add", "path": "/instance_uuid", "value": instance},
        ]
    }
    member = {"headers": personas.MEMBER}
    story: list[tuple[str, str, str, dict[str, Any]]] = [
        ("post", ARQ, ARQ, {"json": {"device_profile_name": "nope"}}),
        ("post", ARQ, ARQ, {"json": {}}),
        ("patch", ARQ, ARQ, {"json": bind, **member}),
        ("patch", ARQ_ITEM, f"{ARQ}/{arq}", {"json": bind}),
        ("patch", ARQ, ARQ, {"json": {str(uuid.uuid4()): bind[arq]}}),
        ("get", ARQ_ITEM, f"{ARQ}/{arq}", {}),
        ("get", ARQ, ARQ, {"query_string": f"instance={instance}&bind_state=resolved"}),
        ("get", ARQ, ARQ, {"query_string": "bind_state=Bound"}),
        ("get", ARQ_ITEM, f"{ARQ}/{uuid.uuid4()}", {}),
        ("delete", ARQ_ITEM, f"{ARQ}/{arq}", {"headers": personas.ADMIN}),
        ("delete", ARQ, ARQ, {}),
        ("delete", ARQ, ARQ, {"query_string": f"instance={instance}"}),
        ("delete", ARQ_ITEM, f"{ARQ}/{arq}", {}),
    ]
    statuses = _run(client, story)
    assert statuses == [404, 400, 403, 202, 404, 200, 200, 400, 404, 403, 400, 204, 404]


def test_locked_list_has_no_body(client, db):
    client.simulate_post(DP, json=[{"name": "one", "groups": [{"resources:PGPU": "1"}]}])
    arq = client.simulate_post(ARQ, json={"device_profile_name": "one"}).json["arqs"][0]
    instance = str(uuid.uuid4())
    with db.transaction() as s:
        s.execute(
            sa.update(models.AcceleratorRequest)
            .where(models.AcceleratorRequest.uuid == arq["uuid"])
            .values(state="BindStarted", instance_uuid=instance)
        )
    result = client.simulate_get(ARQ, query_string=f"instance={instance}&bind_state=resolved")
    assert result.status_code == 423
    check_response(ARQ, "get", result)
