"""OpenAPI for ``/v2/device_profiles`` (OpenAPI 3.0.3 schema dialect)."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import (
    NEXT_LINK_HEADER,
    NO_CONTENT,
    PAGING,
    errors,
    json_response,
    operation,
    page_properties,
    query,
    ref,
    request_schema,
)
from cyborg_lite.api.policies import device_profiles as rules
from cyborg_lite.api.schemas import device_profiles as request

_TAG = "device_profiles"

_VALUE_PATH = {
    "name": "value",
    "in": "path",
    "required": True,
    "description": "A profile uuid; or a name (show: from microversion 2.2); or, for delete, "
    "comma-separated names.",
    "schema": {"type": "string"},
}

# A profile shows its groups as they were posted (normalized).
_GROUP = request_schema(request.GROUP)

SCHEMAS: dict[str, Any] = {
    "DeviceProfile": {
        "type": "object",
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "description": {"type": "string", "nullable": True},
            "groups": {
                "type": "array",
                "items": _GROUP,
                "description": "In the order posted (Nova's `device_profile_<i>`).",
            },
            "links": ref("Links"),
            "created_at": ref("Timestamp"),
            "updated_at": ref("Timestamp"),
        },
        "required": ["uuid", "name", "description", "groups", "links", "created_at", "updated_at"],
        "additionalProperties": False,
    },
    "DeviceProfileList": {
        "type": "object",
        "properties": page_properties("device_profiles", "DeviceProfile"),
        "required": ["device_profiles"],
        "additionalProperties": False,
    },
    "DeviceProfileShow": {
        "type": "object",
        "properties": {"device_profile": ref("DeviceProfile")},
        "required": ["device_profile"],
        "additionalProperties": False,
    },
    "DeviceProfileCreate": request_schema(request.CREATE),
}

PATHS: dict[str, Any] = {
    "/v2/device_profiles": {
        "get": operation(
            "List device profiles",
            _TAG,
            {
                "200": json_response(
                    "The profiles, in creation order.", ref("DeviceProfileList"), NEXT_LINK_HEADER
                ),
                **errors(400, 403),
            },
            parameters=[
                query("name", "Comma-separated names; only those are listed (none: `[]`)."),
                *PAGING,
            ],
            policy=rules.GET_ALL,
        ),
        "post": operation(
            "Create a device profile",
            _TAG,
            {
                "201": json_response("The new profile, bare.", ref("DeviceProfile")),
                **errors(400, 403, 409, 413),
            },
            body=ref("DeviceProfileCreate"),
            policy=rules.CREATE,
            notes="A name or uuid already taken is a 409.",
        ),
        "delete": operation(
            "Delete device profiles by name",
            _TAG,
            {"204": NO_CONTENT, **errors(400, 403, 404, 409)},
            parameters=[
                {
                    **query("value", "Comma-separated profile names (or one uuid)."),
                    "required": True,
                }
            ],
            policy=rules.DELETE,
            notes="Without `value` (as `DELETE /v2/device_profiles/`) the answer is 400. A "
            "missing name is a 404 and nothing is deleted; a profile that accelerator requests "
            "use is a 409.",
        ),
    },
    "/v2/device_profiles/{value}": {
        "get": operation(
            "Show a device profile",
            _TAG,
            {
                "200": json_response(
                    "The profile, wrapped in `device_profile`.", ref("DeviceProfileShow")
                ),
                **errors(403, 404, 406),
            },
            parameters=[_VALUE_PATH],
            policy=rules.GET_ONE,
            notes="A name needs microversion 2.2 (below: 406).",
        ),
        "delete": operation(
            "Delete a device profile by uuid, or several by name",
            _TAG,
            {"204": NO_CONTENT, **errors(400, 403, 404, 409)},
            parameters=[_VALUE_PATH],
            policy=rules.DELETE,
            notes="A missing name is a 404 and nothing is deleted.",
        ),
    },
}
