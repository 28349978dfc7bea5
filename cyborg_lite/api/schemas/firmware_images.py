"""Request schema for registering a firmware image."""

from __future__ import annotations

from typing import Any

PCI_ID = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{4}$"}
VERSION = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9._+:~-]+$"}

_COMPAT_PROPS: dict[str, Any] = {
    "device_ids": {"type": "array", "items": PCI_ID, "maxItems": 256, "uniqueItems": True},
    "models": {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 255},
        "maxItems": 256,
        "uniqueItems": True,
    },
    "min_version": VERSION,
    # Bitstreams only: the function the image provides (Intel: the AFU id; a profile's
    # accel:function_id matches it) and the PR interface ids of the regions it fits.
    "function_id": {
        "type": "string",
        "description": "Bitstreams: the function provided.",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[A-Za-z0-9._:-]+$",
    },
    "pr_interface_ids": {
        "type": "array",
        "description": "Bitstreams: the PR interface ids of the regions it fits.",
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "pattern": "^[A-Za-z0-9._:-]+$",
        },
        "maxItems": 64,
        "uniqueItems": True,
    },
}

CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "vendor": PCI_ID,
        "component": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
        "version": VERSION,
        "compatibility": {
            "type": "object",
            "properties": _COMPAT_PROPS,
            "additionalProperties": False,
        },
        **_COMPAT_PROPS,
        "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
        "signature": {
            "type": "string",
            "description": "Detached signature, base64.",
            "minLength": 1,
            "maxLength": 16384,
        },
    },
    "required": ["name", "vendor", "component", "version"],
    "additionalProperties": False,
}
