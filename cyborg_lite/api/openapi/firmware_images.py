"""OpenAPI description of the firmware image catalog (microversion 2.4)."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import page_properties, request_schema
from cyborg_lite.api.schemas import firmware_images as request

_ERR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERR}}}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


_UUID_PARAM = {"name": "uuid", "in": "path", "required": True, "schema": {"type": "string"}}
_ERRORS = {
    "400": _error("Malformed request."),
    "403": _error("Policy denied."),
    "406": _error("Microversion below 2.4."),
}

PATHS: dict[str, Any] = {
    "/v2/firmware_images": {
        "post": {
            "summary": "Register a firmware image (bytes are uploaded separately).",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/FirmwareImageCreate"}
                    }
                },
            },
            "responses": {"201": _json("FirmwareImage", "Registered, queued."), **_ERRORS},
        },
        "get": {
            "summary": "List firmware images.",
            "parameters": [
                {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                for n in ("name", "vendor", "component", "version", "status", "marker")
            ]
            + [
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1},
                }
            ],
            "responses": {"200": _json("FirmwareImageList", "The images."), **_ERRORS},
        },
    },
    "/v2/firmware_images/{uuid}": {
        "get": {
            "summary": "Show a firmware image.",
            "parameters": [_UUID_PARAM],
            "responses": {
                "200": _json("FirmwareImage", "The image."),
                "404": _error("No such image."),
                **_ERRORS,
            },
        },
        "delete": {
            "summary": "Delete a firmware image.",
            "parameters": [_UUID_PARAM],
            "responses": {
                "204": {"description": "Deleted."},
                "404": _error("No such image."),
                "409": _error("A rollout uses the image."),
                **_ERRORS,
            },
        },
    },
    "/v2/firmware_images/{uuid}/file": {
        "put": {
            "summary": "Upload the image's bytes (streamed, checked, then activated).",
            "parameters": [_UUID_PARAM],
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
            "responses": {
                "200": _json("FirmwareImage", "Stored and active."),
                "404": _error("No such image."),
                "409": _error("The image already has its bytes."),
                "413": _error("Over [firmware] max_image_bytes."),
                **_ERRORS,
            },
        },
        "get": {
            "summary": "Download the image's bytes.",
            "parameters": [_UUID_PARAM],
            "responses": {
                "200": {
                    "description": "The bytes; X-Image-Sha256 names their digest.",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "404": _error("No such image."),
                "409": _error("No bytes uploaded yet."),
                **_ERRORS,
            },
        },
    },
}

_NULLABLE_STR = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "FirmwareImageCreate": request_schema(request.CREATE),
    "FirmwareImage": {
        "type": "object",
        "required": ["uuid", "name", "vendor", "component", "version", "status"],
        "properties": {
            "uuid": {"type": "string"},
            "name": {"type": "string"},
            "vendor": {"type": "string"},
            "component": {"type": "string"},
            "version": {"type": "string"},
            "compatibility": {
                "type": "object",
                "properties": {
                    "device_ids": {"type": "array", "items": {"type": "string"}},
                    "models": {"type": "array", "items": {"type": "string"}},
                    "min_version": _NULLABLE_STR,
                    "function_id": _NULLABLE_STR,
                    "pr_interface_ids": {"type": "array", "items": {"type": "string"}},
                },
            },
            "sha256": _NULLABLE_STR,
            "size": {"type": "integer", "nullable": True},
            "signed": {"type": "boolean"},
            "status": {"type": "string", "enum": ["queued", "active"]},
            "created_by": {
                "type": "object",
                "required": ["user_id", "project_id"],
                "properties": {"user_id": _NULLABLE_STR, "project_id": _NULLABLE_STR},
            },
            "uploaded_by": {
                "type": "object",
                "nullable": True,
                "description": "Who uploaded the bytes (null until they are uploaded).",
                "required": ["user_id", "project_id"],
                "properties": {"user_id": _NULLABLE_STR, "project_id": _NULLABLE_STR},
            },
            "links": {"type": "array", "items": {"type": "object"}},
            "created_at": {"type": "string"},
            "updated_at": _NULLABLE_STR,
        },
    },
    "FirmwareImageList": {
        "type": "object",
        "required": ["firmware_images"],
        "properties": page_properties("firmware_images", "FirmwareImage"),
    },
}
