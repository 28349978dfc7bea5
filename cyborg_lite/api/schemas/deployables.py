"""Request schemas for deployables: the JSON-patch body of ``PATCH .../program``."""

from __future__ import annotations

from typing import Any

# What `openstack accelerator deployable program <dep> <image>` sends:
# [{"path": "/program", "op": "replace", "value": [{"image_uuid": "<glance uuid>"}]}].
# Only /program may be patched; Cyborg refuses internal paths such as /uuid or /name.
PROGRAM: dict[str, Any] = {
    "type": "array",
    "description": "A JSON patch on `/program`; only the first operation's first image is used.",
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
                    # A malformed uuid is refused by the resource in Cyborg's words
                    # (``format`` is an annotation, not checked here).
                    "properties": {"image_uuid": {"type": "string", "format": "uuid"}},
                    "required": ["image_uuid"],
                },
            },
        },
        "required": ["op", "path", "value"],
    },
    "examples": [
        [
            {
                "path": "/program",
                "op": "replace",
                "value": [{"image_uuid": "9f3a2c1e-7b4d-4e8a-9c0f-2d1b3a4c5e6f"}],
            }
        ]
    ],
}
