"""Request schemas for deployables: the JSON-patch body of ``PATCH .../program``."""

from __future__ import annotations

from typing import Any

# What `openstack accelerator deployable program <dep> <image>` sends:
# [{"path": "/program", "op": "replace", "value": [{"image_uuid": "<glance uuid>"}]}].
# Only /program may be patched; Cyborg refuses internal paths such as /uuid or /name.
PROGRAM: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {
            "op": {"enum": ["add", "replace", "remove"]},
            "path": {"const": "/program"},
            "value": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"image_uuid": {"type": "string"}},
                    "required": ["image_uuid"],
                },
            },
        },
        "required": ["op", "path", "value"],
    },
}
