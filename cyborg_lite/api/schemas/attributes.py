"""Request schemas for attributes."""

from __future__ import annotations

from typing import Any

_UUID_PATTERN = "^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"

CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        # Cyborg documents the deployable's internal id; openstackclient sends its uuid and
        # python-cyborgclient 3.0.0 the id as a decimal string ("1").
        "deployable_id": {
            "description": "The deployable's internal id (an integer, or a decimal string of "
            "one, as python-cyborgclient sends it), or its uuid (as openstackclient sends it).",
            "anyOf": [
                # Bounded by the SQL integer column: a larger number is no deployable's id
                # and would overflow the driver (500) instead of not being found.
                {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                {"type": "string", "pattern": _UUID_PATTERN},
                {"type": "string", "pattern": "^[1-9][0-9]{0,9}$"},
            ],
        },
        "key": {"type": "string", "minLength": 1, "maxLength": 255},
        "value": {"type": "string", "maxLength": 255},
    },
    "required": ["deployable_id", "key", "value"],
    "additionalProperties": False,
}

# POST /v2/attributes takes CREATE itself, or wrapped as {"attribute": CREATE} as
# openstacksdk sends it; the resource unwraps first, so errors name the attribute's own fields.
WRAPPER_KEY = "attribute"
