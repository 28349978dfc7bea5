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
    "properties": {"device_profile_name": {"type": "string"}},
    "required": ["device_profile_name"],
}

OP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "op": {"type": "string"},
        "path": {"type": "string"},
        "value": {},
    },
    "required": ["op", "path"],
}

# PATCH: {"<arq uuid>": [op, ...], ...}
PATCH: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {"type": "array", "minItems": 1, "items": OP},
}
