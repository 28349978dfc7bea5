"""Request schemas for firmware rollouts (the strategy and selector are checked further, with
field-naming messages, by ``firmware/strategy.py`` and ``firmware/plan.py``)."""

from __future__ import annotations

from typing import Any

CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "image_uuid": {"type": "string", "minLength": 1, "maxLength": 36},
        "selector": {"type": "object"},
        "strategy": {"type": "object"},
        "dry_run": {"type": "boolean"},
    },
    "required": ["image_uuid", "selector"],
    "additionalProperties": False,
}

ACTION: dict[str, Any] = {
    "type": "object",
    "properties": {"action": {"enum": ["pause", "resume", "abort", "rollback"]}},
    "required": ["action"],
    "additionalProperties": False,
}
