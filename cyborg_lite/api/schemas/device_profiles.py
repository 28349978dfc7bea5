"""JSON Schemas for device profile requests.

Structure only: the rules on group keys and values (prefixes, resource classes, traits) and on
the name's characters live in ``api/resources/device_profiles.py``, where each failure gets its
own message.
"""

from __future__ import annotations

from typing import Any

# Names are also checked with re.fullmatch in the resource: JSON Schema's `pattern` (Python's
# re.search) would let one trailing newline through `$`.
NAME_PATTERN = r"^[a-zA-Z0-9-_]+$"
NAME_MAX = 255

GROUP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": "string"},
}

# One element of the POST list. Unknown keys are ignored, as clients may send extra fields.
PROFILE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
        "description": {"type": ["string", "null"]},
        "uuid": {"type": "string"},
        "groups": {"type": "array", "minItems": 1, "items": GROUP},
    },
    "required": ["name", "groups"],
}

# The POST body: a list holding exactly one profile (its length is checked first, with
# Cyborg's message).
CREATE: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1,
    "items": PROFILE,
}
