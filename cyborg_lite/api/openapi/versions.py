"""OpenAPI for the public documents: ``/``, ``/v2``, ``/healthcheck``, ``/v2/openapi.json``."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import errors, json_response, operation, ref

_VERSION_PROPS: dict[str, Any] = {
    "status": {"type": "string", "enum": ["CURRENT"]},
    "min_version": {"type": "string", "example": "2.0"},
    "max_version": {"type": "string", "example": "2.3"},
    "links": {"type": "array", "items": ref("Link")},
}
_VERSION_KEYS = ["id", "status", "min_version", "max_version", "links"]

SCHEMAS: dict[str, Any] = {
    "Version": {
        "type": "object",
        "properties": {"id": {"type": "string", "enum": ["v2"]}, **_VERSION_PROPS},
        "required": _VERSION_KEYS,
        "additionalProperties": False,
    },
    "Versions": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "versions": {"type": "array", "items": ref("Version")},
            "default_version": ref("Version"),
        },
        "required": ["name", "description", "versions", "default_version"],
        "additionalProperties": False,
    },
    "V2Document": {
        "type": "object",
        "description": "Flat, not wrapped in `version`: keystoneauth's discovery reads it.",
        "properties": {"id": {"type": "string", "enum": ["v2.0"]}, **_VERSION_PROPS},
        "required": _VERSION_KEYS,
        "additionalProperties": False,
    },
}

_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_HEALTH = {
    "200": {"description": "The database answers.", "content": _TEXT},
    "503": {"description": "The database is unreachable.", "content": _TEXT},
}

PATHS: dict[str, Any] = {
    "/": {
        "get": operation(
            "API versions (no token needed).",
            "versions",
            {"200": json_response("The versions document.", ref("Versions")), **errors()},
            versioned=False,
        )
    },
    "/v2": {
        "get": operation(
            "The v2 document and its microversion range (no token needed; `/v2/` too).",
            "versions",
            {"200": json_response("The flat v2 document.", ref("V2Document")), **errors(406)},
        )
    },
    "/healthcheck": {
        "get": operation(
            "Liveness and readiness for load balancers (no token needed).",
            "health",
            _HEALTH,
            versioned=False,
        ),
        "head": operation("As GET, without the body.", "health", _HEALTH, versioned=False),
    },
    "/v2/openapi.json": {
        "get": operation(
            "This document (no token needed).",
            "versions",
            {"200": json_response("An OpenAPI 3.0 document.", {"type": "object"}), **errors(406)},
        )
    },
}
