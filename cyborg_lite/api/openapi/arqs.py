"""OpenAPI for ``/v2/accelerator_requests`` (OpenAPI 3.0.3 schema dialect)."""

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
from cyborg_lite.api.policies import arqs as rules
from cyborg_lite.api.schemas import arqs as request

_TAG = "accelerator_requests"
_GATE = (
    "Needs a service token (`X-Service-Roles: service`, as Nova sends): without one, 403 "
    '"This operation requires a service token. Use the Compute API to manage instance '
    'accelerators."'
)
_NULLABLE_S = {"type": "string", "nullable": True}
_UUID = {"type": "string", "format": "uuid"}

SCHEMAS: dict[str, Any] = {
    "AcceleratorRequest": {
        "type": "object",
        "properties": {
            "uuid": _UUID,
            "state": {
                "type": "string",
                "enum": ["Initial", "BindStarted", "Bound", "BindFailed", "Unbound", "Deleting"],
            },
            "device_profile_name": {"type": "string"},
            "device_profile_group_id": {
                "type": "integer",
                "description": "Index of the profile group this ARQ satisfies.",
            },
            "hostname": _NULLABLE_S,
            "device_rp_uuid": _NULLABLE_S,
            "instance_uuid": _NULLABLE_S,
            "project_id": _NULLABLE_S,
            "attach_handle_type": {
                "type": "string",
                "description": "Empty unless `Bound`; then `PCI`, `MDEV` or `TEST_PCI`.",
            },
            "attach_handle_uuid": _NULLABLE_S,
            "error": {
                "type": "string",
                "nullable": True,
                "description": "From 2.5: why the bind failed (e.g. the bitstream a program "
                "at bind asked for did not load), else null.",
            },
            "attach_handle_info": {
                "type": "object",
                "description": "Empty unless `Bound`; for PCI: `domain`, `bus`, `device`, "
                "`function`.",
                "additionalProperties": {"type": "string"},
            },
            "links": ref("Links"),
            "created_at": ref("Timestamp"),
            "updated_at": ref("Timestamp"),
        },
        "required": [
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
        ],
        "additionalProperties": False,
    },
    "AcceleratorRequestList": {
        "type": "object",
        "properties": page_properties("arqs", "AcceleratorRequest"),
        "required": ["arqs"],
        "additionalProperties": False,
    },
    "AcceleratorRequestCreate": request_schema(request.CREATE),
    "AcceleratorRequestPatch": request_schema(request.PATCH),
}


def _patch(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return operation(
        "Bind or unbind accelerator requests",
        _TAG,
        {"202": NO_CONTENT, **errors(400, 403, 404, 406, 409, 413)},
        parameters=parameters,
        body=ref("AcceleratorRequestPatch"),
        policy=rules.UPDATE,
        notes="`add` ops bind (all of `/hostname`, `/device_rp_uuid`, `/instance_uuid`; "
        "`/project_id` from 2.1, admin only); `remove` ops unbind. The body's keys name the "
        "ARQs. Binding ends `Bound` (an attach handle was allocated) or `BindFailed`. An "
        "instance that already has ARQs is a 400; an ARQ not `Initial`/`Unbound` a 409. " + _GATE,
    )


_DELETE_ERRORS = {"204": NO_CONTENT, **errors(400, 403, 404, 409)}

PATHS: dict[str, Any] = {
    "/v2/accelerator_requests": {
        "get": operation(
            "List accelerator requests",
            _TAG,
            {
                "200": json_response(
                    "The ARQs, in creation order.", ref("AcceleratorRequestList"), NEXT_LINK_HEADER
                ),
                **errors(400, 403),
                "423": {
                    "description": "With both `instance` and `bind_state=resolved`: some ARQ of "
                    "the instance is not resolved yet. No body."
                },
            },
            parameters=[
                query("instance", "Only the ARQs of this instance.", _UUID),
                query(
                    "bind_state",
                    "`resolved`: only `Bound`, `BindFailed` and `Deleting` ARQs.",
                    {"type": "string", "enum": ["resolved"]},
                ),
                *PAGING,
            ],
            policy=rules.GET_ALL,
            notes="A non-admin caller sees its own project's ARQs only.",
        ),
        "post": operation(
            "Create accelerator requests from a device profile",
            _TAG,
            {
                "201": json_response("The new ARQs, all `Initial`.", ref("AcceleratorRequestList")),
                **errors(400, 403, 404, 413),
            },
            body=ref("AcceleratorRequestCreate"),
            policy=rules.CREATE,
            notes="One ARQ per accelerator each group asks for (the sum of its `resources:*` "
            "amounts), in the caller's project. An unknown profile name is a 404.",
        ),
        "patch": _patch([]),
        "delete": operation(
            "Delete accelerator requests",
            _TAG,
            _DELETE_ERRORS,
            parameters=[
                query("arqs", "Comma-separated ARQ uuids."),
                query("instance", "Every ARQ of this instance.", _UUID),
            ],
            policy=rules.DELETE,
            notes="Exactly one of `arqs` and `instance` (else 400); bound ARQs are unbound first. "
            "`arqs`: the ARQs found are deleted, then a missing one is a 404; one bound to an "
            "instance needs a service token. `instance`: idempotent. " + _GATE,
        ),
    },
    "/v2/accelerator_requests/{uuid}": {
        "get": operation(
            "Show an accelerator request",
            _TAG,
            {
                "200": json_response("The ARQ, bare.", ref("AcceleratorRequest")),
                **errors(400, 403, 404),
            },
            parameters=[uuid_path()],
            policy=rules.GET_ONE,
        ),
        "patch": _patch([uuid_path(description="Ignored: the body's keys name the ARQs.")]),
        "delete": operation(
            "Delete an accelerator request",
            _TAG,
            _DELETE_ERRORS,
            parameters=[uuid_path()],
            policy=rules.DELETE,
            notes="As `?arqs=<uuid>`; an ARQ bound to an instance needs a service token.",
        ),
    },
}
