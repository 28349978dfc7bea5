"""OpenAPI for accelerator usage (microversion 2.6): a device's ``usage``, its series and the
fleet summary."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import errors, json_response, operation, query, ref, uuid_path
from cyborg_lite.api.policies import usage as rules

_NUM = {"type": "number", "nullable": True}
_INT = {"type": "integer", "nullable": True}
_TIME = {"type": "string", "format": "date-time", "nullable": True}
_UUID = {"type": "string", "format": "uuid"}
_SCOPE = (
    "An admin sees every device; anyone else only the devices bound to their project's "
    "ARQs. Needs microversion 2.6."
)


def _closed(properties: dict[str, Any], nullable: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if nullable:
        out["nullable"] = True
    return out


def _group(key: str, description: str) -> dict[str, Any]:
    return _closed(
        {
            key: {"type": "string", "nullable": True, "description": description},
            "devices": {"type": "integer", "minimum": 0},
            "busy": {
                "type": "integer",
                "minimum": 0,
                "description": "Not idle, and seen busy within two [agent] usage_report_interval.",
            },
            "idle": {"type": "integer", "minimum": 0, "description": "idle_since is set."},
            "utilization_percent_mean": {
                **_NUM,
                "description": "Mean of the devices' latest utilization; null if none gave one.",
            },
        }
    )


SCHEMAS: dict[str, Any] = {
    "DeviceUsage": {
        **_closed(
            {
                "utilization_percent": {**_NUM, "description": "0-100, the last interval's mean."},
                "memory_used_bytes": _INT,
                "memory_total_bytes": _INT,
                "power_watts": _NUM,
                "temperature_celsius": _NUM,
                "processes": {**_INT, "description": "Compute processes running on it."},
                "sampled_at": {**_TIME, "description": "The end of the interval summarised."},
                "idle_since": {**_TIME, "description": "Null while busy or unknown."},
                "last_busy": {
                    **_TIME,
                    "description": "The end of the last interval it was busy in.",
                },
                "allocated_to": _closed(
                    {
                        "arq_uuid": _UUID,
                        "instance_uuid": {**_UUID, "nullable": True},
                        "project_id": {"type": "string", "nullable": True},
                    },
                    nullable=True,
                ),
            },
            nullable=True,
        ),
        "description": "From microversion 2.6. Any figure the device's source cannot give is "
        "null, never 0. Null as a whole when the caller may not see it (a non-admin, and the "
        "device is not bound to one of its project's ARQs).",
    },
    "UsageSeries": _closed(
        {
            "device_uuid": _UUID,
            "resolution_seconds": {"type": "integer", "minimum": 1},
            "samples": {
                "type": "array",
                "items": _closed(
                    {
                        "start": {"type": "string", "format": "date-time"},
                        "utilization_percent_mean": _NUM,
                        "utilization_percent_max": _NUM,
                        "memory_used_bytes": _INT,
                        "power_watts": _NUM,
                    }
                ),
            },
        }
    ),
    "UsageSummary": _closed(
        {
            "by_model": {"type": "array", "items": _group("model", "As devices show it.")},
            "by_host": {"type": "array", "items": _group("hostname", "The host.")},
            "by_project": {
                "type": "array",
                "items": _group("project_id", "The project of the ARQs bound to the devices."),
            },
            "allocated_idle": {
                "type": "array",
                "items": _closed(
                    {
                        "device_uuid": _UUID,
                        "arq_uuid": _UUID,
                        "instance_uuid": {**_UUID, "nullable": True},
                        "project_id": {"type": "string", "nullable": True},
                        "idle_since": {"type": "string", "format": "date-time"},
                    }
                ),
                "description": "Devices bound to an ARQ and idle for more than [usage] "
                "allocated_idle_after seconds, longest idle first.",
            },
        }
    ),
}

_TAG = "usage"
_TIME_PARAM = {"type": "string", "format": "date-time"}

PATHS: dict[str, Any] = {
    "/v2/usage": {
        "get": operation(
            "The fleet's usage: by model, host and project, and the allocated-but-idle.",
            _TAG,
            {
                "200": json_response("The summary.", ref("UsageSummary")),
                **errors(400, 403, 406),
            },
            policy=rules.GET_SUMMARY,
            notes=_SCOPE,
        )
    },
    "/v2/devices/{uuid}/usage": {
        "get": operation(
            "A device's usage series from its rollups.",
            _TAG,
            {
                "200": json_response("The series, oldest first.", ref("UsageSeries")),
                **errors(400, 403, 404, 406),
            },
            parameters=[
                uuid_path(description="The device's uuid."),
                query("since", "ISO 8601; default an hour before until.", _TIME_PARAM),
                query("until", "ISO 8601, excluded; default now.", _TIME_PARAM),
                query(
                    "resolution",
                    "Seconds per sample: an agent's report interval stored (e.g. 60) or 3600. "
                    "Default: the finest while the range is within [usage] retention_hours, "
                    "else 3600.",
                    {"type": "integer", "minimum": 1},
                ),
            ],
            policy=rules.GET_DEVICE,
            notes=_SCOPE,
        )
    },
}
