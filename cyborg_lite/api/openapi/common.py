"""Shared OpenAPI pieces: the ``Error`` envelope and ``Link`` schemas, reusable parameters and
responses that the per-noun modules build their operations from, and ``request_schema``, which
turns a request schema of ``api/schemas/`` into the document's dialect (request bodies are
never described twice).

The assembler only collects ``PATHS`` and ``SCHEMAS``, so shared parameters and responses are
Python values embedded where used rather than ``#/components/parameters`` entries; schemas are
shared by ``$ref`` (``ref("Error")``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PATHS: dict[str, Any] = {}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Cyborg's error envelope. `error_message` is a string holding JSON: "
        '`{"faultcode": "Client"|"Server", "faultstring": "<message>", "debuginfo": null}` '
        "(plain text for router errors in Cyborg; always JSON here).",
        "properties": {"error_message": {"type": "string"}},
        "required": ["error_message"],
        "additionalProperties": False,
        "example": {
            "error_message": '{"faultcode": "Client", "faultstring": "Device not found with '
            'uuid=6b5e3c1c-2bd0-4c0e-9f0a-1f3d0c4d8e21", "debuginfo": null}'
        },
    },
    "Link": {
        "type": "object",
        "properties": {
            "href": {"type": "string", "format": "uri"},
            "rel": {"type": "string", "enum": ["self", "bookmark"]},
        },
        "required": ["href", "rel"],
        "additionalProperties": False,
    },
    "Links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
    "NextLinks": {
        "type": "array",
        "description": "After a full page only: the next page's URL, as Nova's lists name it.",
        "items": {
            "type": "object",
            "properties": {
                "href": {"type": "string", "format": "uri"},
                "rel": {"type": "string", "enum": ["next"]},
            },
            "required": ["href", "rel"],
            "additionalProperties": False,
        },
    },
    "Timestamp": {
        "type": "string",
        "format": "date-time",
        "nullable": True,
        "description": "ISO 8601 with a UTC offset, e.g. 2026-11-22T14:26:28.169277+00:00.",
    },
}


# JSON Schema keywords that OpenAPI 3.0's schema object has no word for (or, for the
# exclusive bounds, a word meaning something else): a request schema using one must be
# documented some other way, so converting it fails loudly.
_NO_OPENAPI_WORD = frozenset(
    {
        "$ref",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "$defs",
        "prefixItems",
        "contains",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
        "unevaluatedItems",
        "patternProperties",
        "propertyNames",
    }
)
_SUBSCHEMA = frozenset({"items", "not", "additionalProperties"})
_SUBSCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf"})


def request_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A request schema of ``api/schemas/`` (JSON Schema 2020-12, what validation applies) in
    OpenAPI 3.0's dialect, so the document describes the very dict that validates the body:
    ``type: [T, "null"]`` becomes ``type: T, nullable: true``, ``const`` a one-value ``enum``,
    ``examples`` the first ``example``. Patterns keep their text: validation reads ``$`` as
    the end of the string, as ECMA-262 does."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NO_OPENAPI_WORD:
            raise ValueError(f"OpenAPI 3.0 cannot say {key!r} as JSON Schema 2020-12 means it")
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if len(types) != 1:
                raise ValueError(f"OpenAPI 3.0 has one type per schema, not {value!r}")
            out["type"] = types[0]
            if "null" in value:
                out["nullable"] = True
        elif key == "const":
            out["enum"] = [value]
        elif key == "examples":
            out["example"] = value[0]
        elif key == "properties":
            out[key] = {name: request_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA and isinstance(value, Mapping):
            out[key] = request_schema(value)
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [request_schema(sub) for sub in value]
        else:
            out[key] = value
    return out


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def page_properties(key: str, item: str) -> dict[str, Any]:
    """A list page's properties: ``key`` holding ``item`` objects, and after a full page
    ``<key>_links`` with the next page's URL."""
    return {
        key: {"type": "array", "items": ref(item)},
        f"{key}_links": ref("NextLinks"),
    }


def uuid_path(name: str = "uuid", description: str = "The object's uuid.") -> dict[str, Any]:
    """A path parameter holding a uuid (a malformed one gets 400)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "format": "uuid"},
    }


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """An optional query parameter (an unknown parameter name gets 400)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


LIMIT = query(
    "limit",
    "Largest number of objects to return (capped by [api] max_limit). A full page adds a "
    '`Link: <...>; rel="next"` header and the same URL in the body\'s `<collection>_links`.',
    {"type": "integer", "minimum": 1},
)
MARKER = query(
    "marker", "Return objects after the one with this uuid.", {"type": "string", "format": "uuid"}
)
PAGING = [LIMIT, MARKER]

MICROVERSION = {
    "name": "OpenStack-API-Version",
    "in": "header",
    "required": False,
    "description": "`accelerator X.Y` or `accelerator latest`; without it a request runs at 2.0.",
    "schema": {"type": "string"},
    "example": "accelerator 2.3",
}

NEXT_LINK_HEADER = {
    "Link": {
        "description": 'RFC 8288 `<url>; rel="next"` when `limit` was given and the page is full.',
        "schema": {"type": "string"},
    }
}

JSON = "application/json"


def json_response(
    description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A response with a JSON body."""
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


NO_CONTENT = {"description": "Done; the body is empty."}

_ERRORS = {
    400: "Malformed input: unknown query parameter, malformed uuid, invalid body.",
    401: "No valid token (keystone auth only; keystonemiddleware's own body, not the envelope).",
    403: "Refused by policy, or a service token is missing.",
    404: "No such object.",
    405: "Method not allowed on this path.",
    406: "Unsupported microversion, or the feature needs a higher one.",
    409: "Conflicts with the current state.",
    413: "Request body too large.",
    500: "Unexpected server error.",
    503: "A backing service (the database) is unreachable.",
}


def errors(*codes: int) -> dict[str, Any]:
    """Error responses for ``codes`` in Cyborg's envelope, plus ``default`` for the rest."""
    out: dict[str, Any] = {
        str(code): json_response(_ERRORS[code], ref("Error")) for code in sorted(codes)
    }
    out["default"] = json_response("Any other error.", ref("Error"))
    return out


def operation(
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    policy: str | None = None,
    notes: str = "",
    versioned: bool = True,
) -> dict[str, Any]:
    """One operation object; ``policy`` names the oslo.policy rule it checks, ``notes`` add
    to its description, ``versioned`` adds the microversion header (the /v2 paths)."""
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    description = " ".join(t for t in (f"Policy rule: `{policy}`." if policy else "", notes) if t)
    if description:
        op["description"] = description
    params = [*(parameters or [])]
    if versioned:
        params.append(MICROVERSION)
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return op
