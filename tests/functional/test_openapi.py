"""The OpenAPI document: it describes every route and method, its references resolve, and
real responses of the app validate against it."""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema
import pytest

from cyborg_lite.api import openapi, routes
from tests import personas, seed

METHODS = ("get", "head", "post", "put", "patch", "delete")
COMPONENTS = "#/components/schemas/"


def implemented_methods(resource_cls: type, suffix: str | None) -> set[str]:
    """HTTP methods a resource serves for a route: ``on_<method>`` or ``on_<method>_<suffix>``."""
    found = set()
    for name in dir(resource_cls):
        method, _, rest = name.removeprefix("on_").partition("_")
        if name.startswith("on_") and method in METHODS and (rest or None) == suffix:
            found.add(method)
    return found


def test_method_discovery_reads_suffixes():
    class Thing:
        def on_get(self): ...
        def on_post(self): ...
        def on_get_item(self): ...
        def on_delete_item(self): ...
        def on_patch_by_name(self): ...

    assert implemented_methods(Thing, None) == {"get", "post"}
    assert implemented_methods(Thing, "item") == {"get", "delete"}
    assert implemented_methods(Thing, "by_name") == {"patch"}


def test_every_route_and_method_is_documented():
    paths = openapi.document()["paths"]
    missing = []
    for template, resource_cls, suffix in routes.ROUTES:
        # Trailing slashes are stripped before routing, so "/v2/" variants share one entry.
        documented = paths.get(template.rstrip("/") or "/", {})
        for method in sorted(implemented_methods(resource_cls, suffix)):
            if method not in documented:
                missing.append(f"{method.upper()} {template}")
    assert missing == [], "add these to a module in cyborg_lite/api/openapi/"
    templates = {t.rstrip("/") or "/" for t, _, _ in routes.ROUTES}
    assert sorted(set(paths) - templates) == [], "documented paths that no route serves"


def test_every_operation_has_a_summary_and_responses():
    for template, item in openapi.document()["paths"].items():
        unknown = set(item) - set(METHODS) - {"summary", "description", "parameters", "servers"}
        assert not unknown, f"{template}: not a method or path-item field: {unknown}"
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            assert op["responses"], f"{method} {template} documents no response"
            assert op["summary"]
            for code in op["responses"]:
                assert code == "default" or 200 <= int(code) < 600


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    assert pointer.startswith("#/"), f"only local references are used: {pointer}"
    node: Any = document
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_ref_resolves():
    document = openapi.document()
    refs = set(_refs(document))
    assert f"{COMPONENTS}Error" in refs
    for ref in sorted(refs):
        try:
            target = _resolve(document, ref)
        except (KeyError, TypeError):
            pytest.fail(f"unresolved $ref {ref}")
        assert isinstance(target, dict), ref


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema 2020-12: ``nullable`` becomes ``anyOf`` with null,
    component references point into ``$defs``; ``example`` is dropped."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("nullable", "example"):
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(s) for name, s in value.items()}
        elif key == "$ref":
            out[key] = value.replace(COMPONENTS, "#/$defs/")
        else:
            out[key] = to_json_schema(value)
    return {"anyOf": [out, {"type": "null"}]} if schema.get("nullable") else out


def test_converter_handles_nullable_and_refs():
    schema = to_json_schema(
        {
            "type": "object",
            "properties": {
                "nullable": {"type": "integer", "nullable": True},
                "t": {"$ref": f"{COMPONENTS}T"},
            },
        }
    )
    schema["$defs"] = {"T": to_json_schema({"type": "string", "nullable": True})}
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"nullable": None, "t": None})
    assert validator.is_valid({"nullable": 1, "t": "x"})
    assert not validator.is_valid({"nullable": "1"})
    assert not validator.is_valid({"t": 1})


def check_response(template: str, method: str, result: Any) -> None:
    """Validate a real response against what the document says for its status."""
    document = openapi.document()
    responses = document["paths"][template][method]["responses"]
    spec = responses.get(str(result.status_code)) or responses.get("default")
    assert spec is not None, f"{method} {template}: status {result.status_code} undocumented"
    content = spec.get("content")
    if content is None:
        assert result.content == b"", f"{method} {template}: documented without a body"
        return
    assert "application/json" in content, f"{method} {template}: not JSON"
    assert result.headers["content-type"].startswith("application/json")
    schema = to_json_schema(content["application/json"]["schema"])
    schema["$defs"] = {
        name: to_json_schema(s) for name, s in document["components"]["schemas"].items()
    }
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(result.json))
    assert errors == [], f"{method} {template} {result.status_code}: {errors[0].message}"


def test_served_document(client):
    result = client.simulate_get("/v2/openapi.json", headers={"Host": "ctl.example.org"})
    assert result.status_code == 200
    body = result.json
    assert body["openapi"] == "3.0.3"
    assert body["servers"] == [{"url": "http://ctl.example.org"}]
    assert body["paths"] == openapi.document()["paths"]
    assert "servers" not in openapi.document()
    check_response("/v2/openapi.json", "get", result)


def test_real_responses_validate(client, db):
    ids = seed.device(db)
    seed.device(db, pci="0000:5e:00.0", traits=())
    dep, missing = ids["deployable_uuid"], str(uuid.uuid4())
    v23 = personas.headers("admin", version="2.3")
    program = [{"path": "/program", "op": "replace", "value": [{"image_uuid": missing}]}]
    attribute = {"attribute": {"deployable_id": dep, "key": "k", "value": "v"}}
    story: list[tuple[str, str, str, dict[str, Any]]] = [
        ("get", "/", "/", {}),
        ("get", "/v2", "/v2", {}),
        ("get", "/v2", "/v2", {"headers": {"OpenStack-API-Version": "accelerator 9.0"}}),
        ("get", "/v2/devices", "/v2/devices", {"headers": v23}),
        ("get", "/v2/devices", "/v2/devices", {"query_string": "limit=1"}),
        ("get", "/v2/devices", "/v2/devices", {"query_string": "bogus=1"}),
        ("get", "/v2/devices/{uuid}", f"/v2/devices/{ids['device_uuid']}", {}),
        ("post", "/v2/devices/{uuid}/disable", f"/v2/devices/{ids['device_uuid']}/disable", {}),
        ("post", "/v2/devices/{uuid}/enable", f"/v2/devices/{ids['device_uuid']}/enable", {}),
        ("get", "/v2/devices/{uuid}", f"/v2/devices/{ids['device_uuid']}", {"headers": v23}),
        ("get", "/v2/deployables", "/v2/deployables", {}),
        ("get", "/v2/deployables", "/v2/deployables", {"headers": personas.MEMBER}),
        ("get", "/v2/deployables/{uuid}", f"/v2/deployables/{dep}", {}),
        ("get", "/v2/deployables/{uuid}", f"/v2/deployables/{missing}", {}),
        ("patch", "/v2/deployables/{uuid}/program", f"/v2/deployables/{dep}/program", {}),
        (
            "patch",
            "/v2/deployables/{uuid}/program",
            f"/v2/deployables/{dep}/program",
            {"json": program},
        ),
        ("post", "/v2/attributes", "/v2/attributes", {"json": attribute}),
        ("post", "/v2/attributes", "/v2/attributes", {"json": attribute}),
        ("get", "/v2/attributes", "/v2/attributes", {"query_string": "key=k"}),
        ("get", "/v2/attributes", "/v2/attributes", {}),
    ]
    statuses = []
    for method, template, path, kwargs in story:
        result = client.simulate_request(method.upper(), path, **kwargs)
        statuses.append(result.status_code)
        check_response(template, method, result)
    assert statuses[:10] == [200, 200, 406, 200, 200, 400, 200, 204, 204, 200]
    assert statuses[10:] == [200, 403, 200, 404, 400, 400, 201, 409, 200, 200]
    created = client.simulate_get("/v2/attributes", query_string="key=k").json["attributes"][0]
    item = f"/v2/attributes/{created['uuid']}"
    check_response("/v2/attributes/{uuid}", "get", client.simulate_get(item))
    deleted = client.simulate_delete(item)
    assert deleted.status_code == 204
    check_response("/v2/attributes/{uuid}", "delete", deleted)
    health = client.simulate_get("/healthcheck")
    assert health.status_code == 200
    assert "text/plain" in health.headers["content-type"]
    assert (
        "text/plain"
        in (openapi.document()["paths"]["/healthcheck"]["get"]["responses"]["200"]["content"])
    )


def test_schema_mismatch_is_caught(client, db):
    """The validation above can fail: a body missing a required field does not pass."""
    seed.device(db)
    body = client.simulate_get("/v2/deployables").json
    body["deployables"][0].pop("attributes_list")
    schema = to_json_schema(openapi.document()["components"]["schemas"]["DeployableList"])
    schema["$defs"] = {
        n: to_json_schema(s) for n, s in openapi.document()["components"]["schemas"].items()
    }
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid(body)
    body["deployables"][0]["attributes_list"] = "[]"
    assert validator.is_valid(body)
