"""OpenAPI description of ``/v2/device_profiles`` (OpenAPI 3.0.3 schema dialect)."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.schemas import device_profiles as request_schema

_TAG = ["device_profiles"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad request: the message names the offending field or value.",
        403: "Policy refused the caller.",
        404: "No such device profile.",
        406: "The feature needs a higher microversion (a name in the path needs 2.2).",
        409: "Conflict: the name or uuid is taken, or accelerator requests use the profile.",
    }
    return {str(code): _json("Error", text[code]) for code in codes}


_NAME_PARAM = {
    "name": "name",
    "in": "query",
    "required": False,
    "description": "Comma-separated profile names; only those are listed (none match: an "
    "empty list).",
    "schema": {"type": "string"},
    "example": "gpu-h100,fpga-intel",
}
_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "At most this many profiles (capped by [api] max_limit); a full page "
        'adds a `Link: <...>; rel="next"` header.',
        "schema": {"type": "integer", "minimum": 1},
    },
    {
        "name": "marker",
        "in": "query",
        "required": False,
        "description": "Uuid of the last profile of the previous page.",
        "schema": {"type": "string", "format": "uuid"},
    },
]
_VALUE_PATH = {
    "name": "value",
    "in": "path",
    "required": True,
    "description": "A profile uuid; or a name (show: from microversion 2.2); or, for delete, "
    "comma-separated names.",
    "schema": {"type": "string"},
}
_VERSION_HEADER = {
    "name": "OpenStack-API-Version",
    "in": "header",
    "required": False,
    "description": "`accelerator 2.2` or later to show a profile by name.",
    "schema": {"type": "string"},
    "example": "accelerator 2.2",
}

PATHS: dict[str, Any] = {
    "/v2/device_profiles": {
        "get": {
            "tags": _TAG,
            "summary": "List device profiles",
            "operationId": "listDeviceProfiles",
            "parameters": [_NAME_PARAM, *_PAGING],
            "responses": {
                "200": _json("DeviceProfileList", "The profiles, in creation order."),
                **_errors(400, 403),
            },
        },
        "post": {
            "tags": _TAG,
            "summary": "Create a device profile (admin)",
            "description": "The body is a JSON list holding exactly one profile. Whitespace "
            "inside resource class and trait names is removed.",
            "operationId": "createDeviceProfile",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("DeviceProfileCreate")}},
            },
            "responses": {
                "201": _json("DeviceProfile", "The new profile (bare, not wrapped)."),
                **_errors(400, 403, 409),
            },
        },
        "delete": {
            "tags": _TAG,
            "summary": "Delete device profiles by name (admin)",
            "description": "Without `value` (as in `DELETE /v2/device_profiles/`) the answer "
            "is 400. Nothing is deleted when a name is missing.",
            "operationId": "deleteDeviceProfilesByName",
            "parameters": [
                {
                    "name": "value",
                    "in": "query",
                    "required": True,
                    "description": "Comma-separated profile names (or one uuid).",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {"204": {"description": "Deleted."}, **_errors(400, 403, 404, 409)},
        },
    },
    "/v2/device_profiles/{value}": {
        "get": {
            "tags": _TAG,
            "summary": "Show a device profile",
            "operationId": "showDeviceProfile",
            "parameters": [_VALUE_PATH, _VERSION_HEADER],
            "responses": {
                "200": _json("DeviceProfileShow", "The profile, wrapped in `device_profile`."),
                **_errors(403, 404, 406),
            },
        },
        "delete": {
            "tags": _TAG,
            "summary": "Delete a device profile by uuid, or several by name (admin)",
            "operationId": "deleteDeviceProfiles",
            "parameters": [_VALUE_PATH],
            "responses": {"204": {"description": "Deleted."}, **_errors(400, 403, 404, 409)},
        },
    },
}

_GROUP = {
    "type": "object",
    "description": "One request group. Keys: `resources:<RC>` (value: a positive integer "
    "string), `trait:CUSTOM_<NAME>` (`required` or `forbidden`), `accel:<key>` (any string).",
    "additionalProperties": {"type": "string"},
    "example": {"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"},
}

SCHEMAS: dict[str, Any] = {
    "DeviceProfile": {
        "type": "object",
        "required": ["uuid", "name", "description", "groups", "links", "created_at"],
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "description": {"type": "string", "nullable": True},
            "groups": {"type": "array", "items": _GROUP},
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["href", "rel"],
                    "properties": {"href": {"type": "string"}, "rel": {"type": "string"}},
                },
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
    "DeviceProfileList": {
        "type": "object",
        "required": ["device_profiles"],
        "properties": {"device_profiles": {"type": "array", "items": _ref("DeviceProfile")}},
    },
    "DeviceProfileShow": {
        "type": "object",
        "required": ["device_profile"],
        "properties": {"device_profile": _ref("DeviceProfile")},
    },
    "DeviceProfileCreate": {
        "type": "array",
        "minItems": 1,
        "maxItems": 1,
        "items": {
            "type": "object",
            "required": ["name", "groups"],
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": request_schema.NAME_MAX,
                    "pattern": request_schema.NAME_PATTERN,
                },
                "description": {"type": "string", "nullable": True},
                "uuid": {
                    "type": "string",
                    "format": "uuid",
                    "description": "Optional; must not be taken.",
                },
                "groups": {"type": "array", "minItems": 1, "items": _GROUP},
            },
        },
    },
}
