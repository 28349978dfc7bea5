"""OpenAPI for ``/v2/devices``."""

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
    uuid_path,
)
from cyborg_lite.api.policies import devices as rules

_S = {"type": "string"}
_NULLABLE_S = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "Device": {
        "type": "object",
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "type": {
                "type": "string",
                "description": "GPU, FPGA, AICHIP, QAT, NIC, SSD, ...",
                "example": "GPU",
            },
            "vendor": {"type": "string", "description": "PCI vendor id.", "example": "10de"},
            "model": _S,
            "std_board_info": {
                **_NULLABLE_S,
                "description": "Usually a JSON-encoded object, as a string.",
            },
            "vendor_board_info": _NULLABLE_S,
            "hostname": _S,
            "status": {
                "type": "string",
                "enum": ["enabled", "maintaining"],
                "description": "Present from microversion 2.3.",
            },
            "host_state": {
                "type": "string",
                "nullable": True,
                "enum": ["up", "down", "maintenance", None],
                "description": "Present from microversion 2.4: the state of the device's host.",
            },
            "usage": ref("DeviceUsage"),
            "links": ref("Links"),
            "created_at": ref("Timestamp"),
            "updated_at": ref("Timestamp"),
        },
        "required": [
            "uuid",
            "type",
            "vendor",
            "model",
            "std_board_info",
            "vendor_board_info",
            "hostname",
            "links",
            "created_at",
            "updated_at",
        ],
        "additionalProperties": False,
    },
    "DeviceList": {
        "type": "object",
        "properties": page_properties("devices", "Device"),
        "required": ["devices"],
        "additionalProperties": False,
    },
}

_ITEM = [uuid_path(description="The device's uuid.")]
_TAG = "devices"

PATHS: dict[str, Any] = {
    "/v2/devices": {
        "get": operation(
            "List devices; filters are exact and ANDed.",
            _TAG,
            {
                "200": json_response("The devices.", ref("DeviceList"), NEXT_LINK_HEADER),
                **errors(400, 403, 406),
            },
            parameters=[
                query("type", "Device type, e.g. GPU."),
                query("vendor", "PCI vendor id, e.g. 10de."),
                query("hostname", "Host name."),
                query(
                    "idle_for",
                    "From 2.6: devices idle at least this many seconds (a non-admin gets only "
                    "those bound to its project's ARQs).",
                    {"type": "integer", "minimum": 0, "maximum": 2147483647},
                ),
                *PAGING,
            ],
            policy=rules.GET_ALL,
        )
    },
    "/v2/devices/{uuid}": {
        "get": operation(
            "Show a device.",
            _TAG,
            {"200": json_response("The device.", ref("Device")), **errors(400, 403, 404, 406)},
            parameters=_ITEM,
            policy=rules.GET_ONE,
        )
    },
    "/v2/devices/{uuid}/disable": {
        "post": operation(
            "Put a device in maintenance (no new binds).",
            _TAG,
            {"204": NO_CONTENT, **errors(400, 403, 404, 406)},
            parameters=_ITEM,
            policy=rules.DISABLE,
        )
    },
    "/v2/devices/{uuid}/enable": {
        "post": operation(
            "Take a device out of maintenance.",
            _TAG,
            {"204": NO_CONTENT, **errors(400, 403, 404, 406)},
            parameters=_ITEM,
            policy=rules.ENABLE,
        )
    },
}
