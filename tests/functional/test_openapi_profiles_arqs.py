"""The OpenAPI description of device profiles and ARQs matches the routes and real responses."""

from __future__ import annotations

import copy
import uuid

import jsonschema
import pytest

from cyborg_lite.api import routes
from cyborg_lite.api.openapi import arqs as arqs_doc
from cyborg_lite.api.openapi import device_profiles as profiles_doc
from tests import seed

MODULES = [profiles_doc, arqs_doc]
METHODS = ("get", "post", "put", "patch", "delete")
PREFIXES = ("/v2/device_profiles", "/v2/accelerator_requests")


def _own_schemas():
    merged = {}
    for module in MODULES:
        merged.update(module.SCHEMAS)
    return merged


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize(
    ("template", "resource", "suffix"),
    [r for r in routes.ROUTES if r[0].startswith(PREFIXES)],
)
def test_every_responder_is_described(template, resource, suffix):
    described = {}
    for module in MODULES:
        described.update(module.PATHS.get(template, {}))
    served = {m for m in METHODS if hasattr(resource, f"on_{m}" + (f"_{suffix}" if suffix else ""))}
    assert served
    assert set(described) == served


def test_refs_resolve_here_or_to_the_shared_error():
    names = set(_own_schemas())
    for module in MODULES:
        for ref in _refs([module.PATHS, module.SCHEMAS]):
            name = ref.removeprefix("#/components/schemas/")
            assert name in names or name == "Error", ref


def test_every_operation_documents_its_errors():
    for module in MODULES:
        for item in module.PATHS.values():
            for operation in item.values():
                codes = set(operation["responses"])
                assert "403" in codes
                assert any(c.startswith("2") for c in codes)


def _as_json_schema(node):
    # OpenAPI 3.0's `nullable: true` is JSON Schema's type union with "null".
    if isinstance(node, dict):
        out = {k: _as_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            out["type"] = [node["type"], "null"]
        return out
    if isinstance(node, list):
        return [_as_json_schema(v) for v in node]
    return node


def _check(name, body):
    root = {"components": {"schemas": _as_json_schema(copy.deepcopy(_own_schemas()))}}
    schema = {**root, "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(schema).validate(body)


def test_real_responses_validate(client, db):
    gpu = seed.device(db)
    groups = [{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}]
    request = [{"name": "h100", "groups": groups, "description": None}]
    _check("DeviceProfileCreate", request)
    made = client.simulate_post("/v2/device_profiles", json=request)
    _check("DeviceProfile", made.json)
    _check("DeviceProfileList", client.simulate_get("/v2/device_profiles").json)
    _check(
        "DeviceProfileShow", client.simulate_get(f"/v2/device_profiles/{made.json['uuid']}").json
    )

    arqs = client.simulate_post("/v2/accelerator_requests", json={"device_profile_name": "h100"})
    _check("AcceleratorRequestList", arqs.json)
    arq_uuid = arqs.json["arqs"][0]["uuid"]
    body = {
        arq_uuid: [
            {"op": "add", "path": "/hostname", "value": "compute1"},
            {"op": "add", "path": "/device_rp_uuid", "value": gpu["rp_uuid"]},
            {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        ]
    }
    _check("AcceleratorRequestPatch", body)
    assert client.simulate_patch("/v2/accelerator_requests", json=body).status_code == 202
    bound = client.simulate_get(f"/v2/accelerator_requests/{arq_uuid}")
    assert bound.json["state"] == "Bound"
    _check("AcceleratorRequest", bound.json)
    with pytest.raises(jsonschema.ValidationError):
        _check("AcceleratorRequest", {**bound.json, "state": "Nope"})
