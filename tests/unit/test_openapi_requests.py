"""The OpenAPI document's request bodies are the request schemas that validation applies,
converted to OpenAPI 3.0's dialect, never a second description."""

from __future__ import annotations

import pytest

from cyborg_lite.api import openapi
from cyborg_lite.api.openapi import common
from cyborg_lite.api.schemas import (
    arqs,
    attributes,
    deployables,
    device_profiles,
    firmware_images,
    rollouts,
)

COMPONENTS = openapi.document()["components"]["schemas"]


@pytest.mark.parametrize(
    ("component", "schema"),
    [
        ("AcceleratorRequestCreate", arqs.CREATE),
        ("AcceleratorRequestPatch", arqs.PATCH),
        ("ProgramPatch", deployables.PROGRAM),
        ("DeviceProfileCreate", device_profiles.CREATE),
        ("FirmwareImageCreate", firmware_images.CREATE),
        ("RolloutCreate", rollouts.CREATE),
        ("RolloutAction", rollouts.ACTION),
    ],
)
def test_request_bodies_are_the_validation_schemas(component, schema):
    assert COMPONENTS[component] == common.request_schema(schema)


def test_attributes_are_documented_bare_or_wrapped():
    bare, wrapped = COMPONENTS["AttributeCreate"]["oneOf"]
    assert bare == common.request_schema(attributes.CREATE)
    assert wrapped["properties"] == {attributes.WRAPPER_KEY: bare}


def test_every_json_request_body_is_a_component():
    for template, item in openapi.document()["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            if "application/json" in content:
                schema = content["application/json"]["schema"]
                assert set(schema) == {"$ref"}, f"{method} {template} describes its body inline"


def test_the_conversion_speaks_openapi_3_0():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"], "examples": ["x", "y"]},
            "b": {"const": "/program"},
            "c": {"anyOf": [{"type": "integer"}, {"type": ["array", "null"], "items": {}}]},
        },
        "additionalProperties": False,
    }
    assert common.request_schema(schema) == {
        "type": "object",
        "properties": {
            "a": {"type": "string", "nullable": True, "example": "x"},
            "b": {"enum": ["/program"]},
            "c": {"anyOf": [{"type": "integer"}, {"type": "array", "nullable": True, "items": {}}]},
        },
        "additionalProperties": False,
    }


@pytest.mark.parametrize(
    "schema",
    [
        {"type": ["string", "integer"]},
        {"prefixItems": [{}]},
        {"exclusiveMinimum": 0},
        {"properties": {"a": {"$ref": "#/$defs/a"}}},
    ],
)
def test_what_openapi_3_0_cannot_say_is_refused(schema):
    with pytest.raises(ValueError, match=r"OpenAPI 3\.0"):
        common.request_schema(schema)
