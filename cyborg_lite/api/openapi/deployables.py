"""OpenAPI for ``/v2/deployables``."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import (
    NEXT_LINK_HEADER,
    PAGING,
    errors,
    json_response,
    operation,
    page_properties,
    ref,
    request_schema,
    uuid_path,
)
from cyborg_lite.api.policies import deployables as rules
from cyborg_lite.api.schemas import deployables as request

_NULLABLE_INT = {"type": "integer", "nullable": True}
_NULLABLE_S = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "ProgramAccepted": {
        "type": "object",
        "properties": {
            "job_uuid": {"type": "string", "format": "uuid"},
            "rollout_uuid": {"type": "string", "format": "uuid"},
            "deployable_uuid": {"type": "string", "format": "uuid"},
            "image_uuid": {"type": "string", "format": "uuid"},
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "href": {"type": "string", "format": "uri"},
                        "rel": {"type": "string", "enum": ["jobs", "rollout"]},
                    },
                    "required": ["href", "rel"],
                },
            },
        },
        "required": ["job_uuid", "rollout_uuid", "deployable_uuid", "image_uuid", "links"],
        "additionalProperties": False,
    },
    "Deployable": {
        "type": "object",
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "name": {"type": "string", "description": "Globally unique."},
            "num_accelerators": {"type": "integer", "minimum": 0},
            "device_id": {"type": "integer", "description": "The device's internal id."},
            "parent_id": _NULLABLE_INT,
            "root_id": _NULLABLE_INT,
            "attributes_list": {
                "type": "string",
                "description": "A JSON-encoded list of single-key objects, as Cyborg writes it.",
                "example": '[{"rc": "PGPU"}, {"trait0": "OWNER_CYBORG"}]',
            },
            "rp_uuid": {**_NULLABLE_S, "description": "The child resource provider's uuid."},
            "driver_name": _NULLABLE_S,
            "bitstream_id": {**_NULLABLE_S, "description": "The loaded FPGA bitstream's image."},
            "links": {**ref("Links"), "description": "`self` and `bookmark`."},
            "created_at": ref("Timestamp"),
            "updated_at": ref("Timestamp"),
        },
        "required": [
            "uuid",
            "name",
            "num_accelerators",
            "device_id",
            "parent_id",
            "root_id",
            "attributes_list",
            "rp_uuid",
            "driver_name",
            "bitstream_id",
            "links",
            "created_at",
            "updated_at",
        ],
        "additionalProperties": False,
    },
    "DeployableList": {
        "type": "object",
        "properties": page_properties("deployables", "Deployable"),
        "required": ["deployables"],
        "additionalProperties": False,
    },
    "ProgramPatch": request_schema(request.PROGRAM),
}

_ITEM = [uuid_path(description="The deployable's uuid.")]
_TAG = "deployables"

PATHS: dict[str, Any] = {
    "/v2/deployables": {
        "get": operation(
            "List deployables.",
            _TAG,
            {
                "200": json_response("The deployables.", ref("DeployableList"), NEXT_LINK_HEADER),
                **errors(400, 403, 406),
            },
            parameters=PAGING,
            policy=rules.GET_ALL,
        )
    },
    "/v2/deployables/{uuid}": {
        "get": operation(
            "Show a deployable.",
            _TAG,
            {
                "200": json_response("The deployable.", ref("Deployable")),
                **errors(400, 403, 404, 406),
            },
            parameters=_ITEM,
            policy=rules.GET_ONE,
        )
    },
    "/v2/deployables/{uuid}/program": {
        "patch": operation(
            "Program an FPGA region with a bitstream image.",
            _TAG,
            {
                "200": json_response("The deployable, programmed.", ref("Deployable")),
                "202": json_response(
                    "Still loading after [api] program_timeout: the job to follow.",
                    ref("ProgramAccepted"),
                ),
                **errors(400, 403, 404, 406, 409),
            },
            parameters=_ITEM,
            body=ref("ProgramPatch"),
            policy=rules.PROGRAM,
            notes="The image must be an active catalog image of component `bitstream` that "
            "fits the device (400 otherwise); 409 for a device held by an instance, in "
            "maintenance, busy in a rollout or on a host that is not up, and for a load that "
            "failed (the driver's error code in the message; the old function stays).",
        )
    },
}
