"""OpenAPI description of ``/v2/accelerator_requests`` (OpenAPI 3.0.3 schema dialect)."""

from __future__ import annotations

from typing import Any

_TAG = ["accelerator_requests"]
_GATE = (
    " Needs a service token (`X-Service-Roles: service`, as Nova sends): without one, 403 "
    '"This operation requires a service token. Use the Compute API to manage instance '
    'accelerators."'
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad request: the message names the offending field or value.",
        403: "Policy refused the caller, or a service token is missing.",
        404: "No such accelerator request (or device profile) visible to the caller.",
        406: "The `/project_id` op needs microversion 2.1.",
        409: "An accelerator request is not in a state that allows the operation.",
    }
    return {str(code): _json("Error", text[code]) for code in codes}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_UUID_PATH = {
    "name": "uuid",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}

_PATCH = {
    "tags": _TAG,
    "summary": "Bind or unbind accelerator requests",
    "description": "The body maps ARQ uuids to JSON-patch ops: all `add` (bind: "
    "`/hostname`, `/device_rp_uuid`, `/instance_uuid`, and from 2.1 `/project_id`, admin "
    "only) or all `remove` (unbind). On a `/{uuid}` path the uuid is ignored: the body's keys "
    "name the ARQs. Binding ends `Bound` (an attach handle was allocated) or `BindFailed`." + _GATE,
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _ref("AcceleratorRequestPatch")}},
    },
    "responses": {
        "202": {"description": "Accepted; empty body."},
        **_errors(400, 403, 404, 406, 409),
    },
}

PATHS: dict[str, Any] = {
    "/v2/accelerator_requests": {
        "get": {
            "tags": _TAG,
            "summary": "List accelerator requests",
            "description": "A non-admin caller sees its own project's ARQs only.",
            "operationId": "listAcceleratorRequests",
            "parameters": [
                _query("instance", "Only the ARQs bound to this instance.", format="uuid"),
                _query(
                    "bind_state",
                    "Only resolved ARQs (`Bound`, `BindFailed`, `Deleting`).",
                    enum=["resolved"],
                ),
                _query("limit", "At most this many ARQs.", pattern="^[0-9]+$"),
                _query("marker", "Uuid of the last ARQ of the previous page.", format="uuid"),
            ],
            "responses": {
                "200": _json("AcceleratorRequestList", "The ARQs, in creation order."),
                **_errors(400, 403),
                "423": {
                    "description": "With both `instance` and `bind_state=resolved`: some ARQ "
                    "of the instance is not resolved yet. No body."
                },
            },
        },
        "post": {
            "tags": _TAG,
            "summary": "Create accelerator requests from a device profile",
            "description": "One ARQ per accelerator each group asks for (the sum of its "
            "`resources:*` amounts), in the caller's project.",
            "operationId": "createAcceleratorRequests",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("AcceleratorRequestCreate")}},
            },
            "responses": {
                "201": _json("AcceleratorRequestList", "The new ARQs, all `Initial`."),
                **_errors(400, 403, 404),
            },
        },
        "patch": {**_PATCH, "operationId": "bindAcceleratorRequests"},
        "delete": {
            "tags": _TAG,
            "summary": "Delete accelerator requests",
            "description": "Exactly one of `arqs` and `instance` (else 400). Bound ARQs are "
            "unbound first. `arqs`: the found ones are deleted, then a missing one gives 404; "
            "an ARQ bound to an instance needs a service token. `instance`: idempotent, and "
            "always needs a service token.",
            "operationId": "deleteAcceleratorRequests",
            "parameters": [
                _query("arqs", "Comma-separated ARQ uuids."),
                _query("instance", "Every ARQ of this instance.", format="uuid"),
            ],
            "responses": {"204": {"description": "Deleted."}, **_errors(400, 403, 404, 409)},
        },
    },
    "/v2/accelerator_requests/{uuid}": {
        "get": {
            "tags": _TAG,
            "summary": "Show an accelerator request",
            "operationId": "showAcceleratorRequest",
            "parameters": [_UUID_PATH],
            "responses": {
                "200": _json("AcceleratorRequest", "The ARQ (bare)."),
                **_errors(400, 403, 404),
            },
        },
        "patch": {
            **_PATCH,
            "operationId": "bindAcceleratorRequestsByItem",
            "parameters": [{**_UUID_PATH, "description": "Ignored."}],
        },
        "delete": {
            "tags": _TAG,
            "summary": "Delete an accelerator request",
            "description": "As `?arqs=<uuid>`.",
            "operationId": "deleteAcceleratorRequest",
            "parameters": [_UUID_PATH],
            "responses": {"204": {"description": "Deleted."}, **_errors(400, 403, 404, 409)},
        },
    },
}

_NULLABLE_STRING = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "AcceleratorRequest": {
        "type": "object",
        "required": [
            "uuid",
            "state",
            "device_profile_name",
            "device_profile_group_id",
            "attach_handle_type",
            "attach_handle_info",
        ],
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "state": {
                "type": "string",
                "enum": ["Initial", "BindStarted", "Bound", "BindFailed", "Unbound", "Deleting"],
            },
            "device_profile_name": {"type": "string"},
            "device_profile_group_id": {
                "type": "integer",
                "description": "Index of the profile group this ARQ satisfies.",
            },
            "hostname": _NULLABLE_STRING,
            "device_rp_uuid": _NULLABLE_STRING,
            "instance_uuid": _NULLABLE_STRING,
            "project_id": _NULLABLE_STRING,
            "attach_handle_type": {
                "type": "string",
                "description": "Empty unless `Bound`; then `PCI`, `MDEV` or `TEST_PCI`.",
            },
            "attach_handle_uuid": _NULLABLE_STRING,
            "attach_handle_info": {
                "type": "object",
                "description": "Empty unless `Bound`; for PCI: domain, bus, device, function.",
                "additionalProperties": {"type": "string"},
            },
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
    "AcceleratorRequestList": {
        "type": "object",
        "required": ["arqs"],
        "properties": {"arqs": {"type": "array", "items": _ref("AcceleratorRequest")}},
    },
    "AcceleratorRequestCreate": {
        "type": "object",
        "required": ["device_profile_name"],
        "description": "Other keys are ignored.",
        "properties": {"device_profile_name": {"type": "string"}},
    },
    "AcceleratorRequestPatch": {
        "type": "object",
        "minProperties": 1,
        "description": "ARQ uuid -> ops.",
        "additionalProperties": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["op", "path"],
                "properties": {
                    "op": {"type": "string", "enum": ["add", "remove"]},
                    "path": {
                        "type": "string",
                        "enum": ["/hostname", "/device_rp_uuid", "/instance_uuid", "/project_id"],
                    },
                    "value": {"type": "string", "description": "Required for `add`."},
                },
            },
        },
        "example": {
            "a1b2c3d4-0000-4000-8000-000000000001": [
                {"op": "add", "path": "/hostname", "value": "compute1.example.org"},
                {
                    "op": "add",
                    "path": "/device_rp_uuid",
                    "value": "3f1e0000-0000-4000-8000-000000000002",
                },
                {
                    "op": "add",
                    "path": "/instance_uuid",
                    "value": "9d8c0000-0000-4000-8000-000000000003",
                },
            ]
        },
    },
}
