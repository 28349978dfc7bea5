"""JSON Schemas for firmware rollout requests: the create body, its selector and strategy, and
the action body.

Every rule on a single field is here, so that validation and the OpenAPI document say the
same. ``firmware/plan.py`` (``parse_selector``) and ``firmware/strategy.py`` (``parse``) keep
the rules that span fields or that a JSON Schema cannot state: a selector names at least one
criterion, a window's start and end differ and its time zone exists, and counts are Python
integers (JSON Schema counts ``1.0`` as an integer).
"""

from __future__ import annotations

from typing import Any

from cyborg_lite.firmware import plan, strategy

_COUNT_MAX = strategy.INT_MAX

# A percentage above 0 and at most 100, with up to three integer digits ("050%" and " 5% "
# too: the strategy strips the spaces).
_PERCENT = r"^\s*(100(\.0+)?|(0{0,2}[1-9]|0?[1-9][0-9])(\.[0-9]+)?|0{1,3}\.[0-9]*[1-9][0-9]*)%\s*$"
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _count(minimum: int) -> dict[str, Any]:
    # Bounded: counts and durations end up in SQL integer columns and in timedeltas, which a
    # client-chosen 10**30 would overflow (a 500, or a stuck rollout).
    return {"type": "integer", "minimum": minimum, "maximum": _COUNT_MAX}


def _criterion(what: str) -> dict[str, Any]:
    # null counts as absent, as it always has.
    return {
        "type": ["array", "null"],
        "description": f"A non-empty list of {what}.",
        "minItems": 1,
        "items": {"type": "string", "minLength": 1},
    }


_CRITERIA = {
    "hosts": "host names",
    "device_uuids": "device uuids",
    "models": "device models",
    "current_versions": "firmware versions the devices run now",
}

SELECTOR: dict[str, Any] = {
    "type": "object",
    "description": "At least one non-empty criterion; criteria are ANDed. An empty selector "
    "is refused: it never means every device.",
    # In the planner's order; a criterion added there without a word here fails at import.
    "properties": {name: _criterion(_CRITERIA[name]) for name in plan.SELECTOR_KEYS},
    "additionalProperties": False,
}

WAVE: dict[str, Any] = {
    "description": "A cumulative target: a count of devices (counts from 1 to "
    f"{_COUNT_MAX}) or a percentage like '25%' (above 0, at most 100).",
    "anyOf": [_count(1), {"type": "string", "pattern": _PERCENT}],
}

WINDOW: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "A daily maintenance window; `end` before `start` spans midnight. Jobs "
    "start only inside it.",
    "properties": {
        "start": {"type": "string", "pattern": _HHMM, "description": "HH:MM, 24-hour."},
        "end": {"type": "string", "pattern": _HHMM, "description": "HH:MM, 24-hour."},
        "timezone": {
            "type": ["string", "null"],
            "description": "An IANA time zone such as Europe/Paris; UTC when absent.",
        },
    },
    "required": ["start", "end"],
}

STRATEGY: dict[str, Any] = {
    "type": "object",
    "description": "How the rollout proceeds; every field is optional (the defaults are shown "
    "in the rollout).",
    "properties": {
        "canary": _count(0),
        "waves": {
            "type": "array",
            "description": "Cumulative targets, in order: counts or percentages like '10%'.",
            "minItems": 1,
            "items": WAVE,
        },
        "max_in_flight": _count(1),
        "max_in_flight_per_host": _count(1),
        "failure_budget": {
            "type": ["object", "null"],
            "properties": {
                "count": _count(0),
                "rate": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "additionalProperties": False,
        },
        "bake_seconds": _count(0),
        "window": WINDOW,
        "in_use": {"enum": list(strategy.IN_USE_CHOICES)},
        "allow_reboot": {"type": "boolean"},
    },
    "additionalProperties": False,
}

CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        # A malformed uuid is refused by the resource in Cyborg's words (``format`` is an
        # annotation here, not checked by the schema).
        "image_uuid": {"type": "string", "format": "uuid", "minLength": 1, "maxLength": 36},
        "selector": SELECTOR,
        "strategy": STRATEGY,
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
