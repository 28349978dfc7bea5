"""OpenAPI for ``/v2/attributes``."""

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
    uuid_path,
)
from cyborg_lite.api.policies import attributes as rules
from cyborg_lite.api.schemas import attributes as request

_NEW = request_schema(request.CREATE)

SCHEMAS: dict[str, Any] = {
    "Attribute": {
        "type": "object",
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "deployable_id": {"type": "integer", "description": "The deployable's internal id."},
            "key": {"type": "string", "description": "`rc`, `trait<N>` from drivers, or any."},
            "value": {"type": "string"},
            "links": ref("Links"),
            "created_at": ref("Timestamp"),
            "updated_at": ref("Timestamp"),
        },
        "required": ["uuid", "deployable_id", "key", "value", "links", "created_at", "updated_at"],
        "additionalProperties": False,
    },
    "AttributeList": {
        "type": "object",
        "properties": page_properties("attributes", "Attribute"),
        "required": ["attributes"],
        "additionalProperties": False,
    },
    # The resource unwraps first, then validates the attribute itself.
    "AttributeCreate": {
        "description": "The new attribute, bare or wrapped as openstacksdk sends it.",
        "oneOf": [
            _NEW,
            {
                "type": "object",
                "properties": {request.WRAPPER_KEY: _NEW},
                "required": [request.WRAPPER_KEY],
                "additionalProperties": False,
            },
        ],
    },
}

_ITEM = [uuid_path(description="The attribute's uuid.")]
_TAG = "attributes"

PATHS: dict[str, Any] = {
    "/v2/attributes": {
        "get": operation(
            "List attributes; filters are exact and ANDed.",
            _TAG,
            {
                "200": json_response("The attributes.", ref("AttributeList"), NEXT_LINK_HEADER),
                **errors(400, 403, 406),
            },
            parameters=[
                query("deployable_id", "A deployable's internal id.", {"type": "integer"}),
                query("key", "Attribute key, e.g. rc."),
                *PAGING,
            ],
            policy=rules.GET_ALL,
        ),
        "post": operation(
            "Create an attribute on a deployable (Placement is not changed).",
            _TAG,
            {
                "201": json_response("The new attribute, bare.", ref("Attribute")),
                **errors(400, 403, 406, 409, 413),
            },
            body=ref("AttributeCreate"),
            policy=rules.CREATE,
        ),
    },
    "/v2/attributes/{uuid}": {
        "get": operation(
            "Show an attribute.",
            _TAG,
            {
                "200": json_response("The attribute.", ref("Attribute")),
                **errors(400, 403, 404, 406),
            },
            parameters=_ITEM,
            policy=rules.GET_ONE,
        ),
        "delete": operation(
            "Delete an attribute.",
            _TAG,
            {"204": NO_CONTENT, **errors(400, 403, 404, 406)},
            parameters=_ITEM,
            policy=rules.DELETE,
        ),
    },
}
