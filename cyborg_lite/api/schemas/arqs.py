"""JSON Schemas for accelerator request (ARQ) bodies: create and the bind/unbind patch.

The patch's semantic rules (all ``add`` or all ``remove``, allowed paths, required fields,
microversion and admin gates on ``/project_id``) are in ``api/resources/arqs.py``.
"""

from __future__ import annotations

from typing import Any

# POST: only `device_profile_name` is read; other keys (openstacksdk sends
# `device_profile_group_id` and `image_uuid`) are ignored. Any string is accepted: an empty or
# odd name is looked up and answered 404, as Cyborg does.
CREATE: dict[str, Any] = {
    "type": "object",
    "description": "Other keys are ignored.",
    "properties": {"device_profile_name": {"type": "string"}},
    "required": ["device_profile_name"],
}

# The op and path values are the resource's to refuse, with Cyborg's messages ("Every op must
# be add or remove", "Invalid path in patch ..."): the descriptions name them.
OP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "op": {"type": "string", "description": "`add` (bind) or `remove` (unbind)."},
        "path": {
            "type": "string",
            "description": "`/hostname`, `/device_rp_uuid` or `/instance_uuid`; "
            "`/project_id` from microversion 2.1 (admin only).",
        },
        "value": {"description": "For `add`: a non-empty string (a uuid for the uuid paths)."},
    },
    "required": ["op", "path"],
}

# PATCH: {"<arq uuid>": [op, ...], ...}
PATCH: dict[str, Any] = {
    "type": "object",
    "description": "ARQ uuid -> JSON-patch ops, all `add` (bind) or all `remove` (unbind).",
    "minProperties": 1,
    "additionalProperties": {"type": "array", "minItems": 1, "items": OP},
    "examples": [
        {
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
        }
    ],
}
