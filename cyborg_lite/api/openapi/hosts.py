"""OpenAPI description of ``/v2/hosts`` (microversion 2.4)."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import page_properties

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


_VERSION_NOTE = "Needs `OpenStack-API-Version: accelerator 2.4` or later (406 below)."

PATHS: dict[str, Any] = {
    "/v2/hosts": {
        "get": {
            "operationId": "listHosts",
            "summary": "List the hosts running agents, by name.",
            "description": _VERSION_NOTE,
            "tags": ["hosts"],
            "parameters": [
                {
                    "name": "state",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["up", "down", "maintenance"]},
                },
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {
                    "name": "marker",
                    "in": "query",
                    "description": "The hostname of the last host of the previous page.",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The hosts.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/HostList"}}
                    },
                },
                "400": _error("Unknown query parameter, bad state, limit or marker."),
                "403": _error("Policy does not allow it."),
                "406": _error("Microversion below 2.4."),
            },
        }
    },
    "/v2/hosts/{hostname}": {
        "get": {
            "operationId": "getHost",
            "summary": "Show one host.",
            "description": _VERSION_NOTE,
            "tags": ["hosts"],
            "parameters": [
                {"name": "hostname", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "The host.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Host"}}
                    },
                },
                "403": _error("Policy does not allow it."),
                "404": _error("No host of that name."),
                "406": _error("Microversion below 2.4."),
            },
        }
    },
}

_TIMESTAMP = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Host": {
        "type": "object",
        "required": [
            "hostname",
            "state",
            "last_heartbeat",
            "agent_version",
            "device_count",
            "device_counts",
            "missing_device_count",
            "driver_errors",
            "links",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "hostname": {"type": "string"},
            "state": {"type": "string", "enum": ["up", "down", "maintenance"]},
            "last_heartbeat": {**_TIMESTAMP, "nullable": True},
            "agent_version": {"type": "string", "nullable": True},
            "device_count": {"type": "integer", "minimum": 0},
            "device_counts": {
                "type": "object",
                "description": 'Devices by type, e.g. {"FPGA": 2, "GPU": 3}.',
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
            "missing_device_count": {
                "type": "integer",
                "minimum": 0,
                "description": "Devices gone from the host's reports but kept while an "
                "accelerator request holds them.",
            },
            "driver_errors": {
                "type": "array",
                "description": "Drivers whose discovery failed in the last report.",
                "items": {
                    "type": "object",
                    "required": ["driver", "error"],
                    "properties": {"driver": {"type": "string"}, "error": {"type": "string"}},
                },
            },
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"href": {"type": "string"}, "rel": {"type": "string"}},
                },
            },
            "created_at": _TIMESTAMP,
            "updated_at": {**_TIMESTAMP, "nullable": True},
        },
    },
    "HostList": {
        "type": "object",
        "required": ["hosts"],
        "properties": page_properties("hosts", "Host"),
    },
}
