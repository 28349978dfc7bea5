"""JSON Schemas for device profile requests.

Structure only: the rules on group keys and values (prefixes, resource classes, traits) and on
the name's characters live in ``api/resources/device_profiles.py``, where each failure gets its
own message.
"""

from __future__ import annotations

from typing import Any

# The name's characters are checked by the resource (re.fullmatch, with Cyborg's message), not
# by a `pattern` here, whose error would come first with jsonschema's words; the description
# documents the rule.
NAME_PATTERN = r"^[a-zA-Z0-9-_]+$"
NAME_MAX = 255

GROUP: dict[str, Any] = {
    "type": "object",
    "description": "One request group. Keys: `resources:<RC>` (a standard class or "
    "`CUSTOM_*`; value: a positive integer string), `trait:CUSTOM_<NAME>` (`required` or "
    "`forbidden`), `accel:<key>` (any string). Whitespace in resource class and trait names is "
    "removed.",
    "additionalProperties": {"type": "string"},
    "examples": [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"}],
}

# One element of the POST list. Unknown keys are ignored, as clients may send extra fields.
PROFILE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": NAME_MAX,
            "description": 'Letters, digits, "-" and "_" only.',
        },
        "description": {"type": ["string", "null"]},
        # A malformed uuid is refused by the resource in Cyborg's words (``format`` is an
        # annotation, not checked here).
        "uuid": {
            "type": "string",
            "format": "uuid",
            "description": "Optional; a uuid already taken is a 409.",
        },
        "groups": {"type": "array", "minItems": 1, "items": GROUP},
    },
    "required": ["name", "groups"],
}

# The POST body: a list holding exactly one profile (its length is checked first, with
# Cyborg's message).
CREATE: dict[str, Any] = {
    "type": "array",
    "description": "A list holding exactly one profile (as the CLI sends it).",
    "minItems": 1,
    "maxItems": 1,
    "items": PROFILE,
}
