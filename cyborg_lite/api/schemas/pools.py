"""JSON Schemas for accelerator pool requests (2.7): the create and change bodies, a lending
window and the reclaim action.

Every rule on a single field is here, so that validation and the OpenAPI document say the
same. ``lending.pools`` (fields), ``lending.windows`` (windows) and
``usecases.pools.parse_selector`` keep the rules that span fields or that a JSON Schema cannot
state (a known time zone, a name that makes a trait, a window's end after its start, integers
that are Python integers), each an error naming the field.
"""

from __future__ import annotations

from typing import Any

from cyborg_lite.lending import pools, windows

_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_PROJECT = {"type": "string", "minLength": 1, "maxLength": 255}
_SECONDS = {"type": "integer", "minimum": 0, "maximum": pools.INT_MAX}


def _criterion(what: str) -> dict[str, Any]:
    return {
        "type": ["array", "null"],
        "description": f"A non-empty list of {what}.",
        "minItems": 1,
        "items": {"type": "string", "minLength": 1, "maxLength": 255},
    }


SELECTOR: dict[str, Any] = {
    "type": "object",
    "description": "The pool's devices: at least one non-empty criterion; criteria are ANDed. "
    "An empty selector is refused: it never means every device. Resolved when the pool is "
    "created or its selector changed.",
    "properties": {
        "hosts": _criterion("host names"),
        "models": _criterion("device models"),
        "device_uuids": _criterion("device uuids"),
    },
    "additionalProperties": False,
}

RESERVE: dict[str, Any] = {
    "type": "object",
    "description": "What is never lent: {'count': N} devices, or {'share': S} of the pool "
    "(0 <= S < 1, rounded up). Default {'count': 0}.",
    "properties": {
        "count": _SECONDS,
        "share": {"type": "number", "minimum": 0, "maximum": 1, "description": "Below 1."},
    },
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}

_FIELDS: dict[str, Any] = {
    "name": {
        "type": "string",
        "minLength": 1,
        "maxLength": pools.NAME_MAX_LENGTH,
        "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        "description": "Unique; the pool's trait is CUSTOM_CYBORG_POOL_<NAME> (upper-cased, "
        "other characters as '_').",
    },
    "owner_project_id": {
        **_PROJECT,
        "description": "The project that owns the devices (default the caller's; only an "
        "admin names another).",
    },
    "selector": SELECTOR,
    "borrower_project_ids": {
        "type": ["array", "null"],
        "items": _PROJECT,
        "uniqueItems": True,
        "description": "The projects that may borrow; null (the default) for any project.",
    },
    "reserve": RESERVE,
    "min_idle_seconds": {**_SECONDS, "description": "Idle this long before offered."},
    "notice_seconds": {
        **_SECONDS,
        "description": "A reclaim's notice before the on_reclaim action.",
    },
    "on_reclaim": {"enum": list(pools.ON_RECLAIM)},
    "timezone": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "description": "An IANA time zone such as Europe/Berlin, for the weekly windows.",
    },
}

CREATE: dict[str, Any] = {
    "type": "object",
    "properties": _FIELDS,
    "required": ["name", "selector"],
    "additionalProperties": False,
}

UPDATE: dict[str, Any] = {
    "type": "object",
    "description": "The fields to change; those absent keep their value. A new selector "
    "re-resolves the pool's devices.",
    "properties": _FIELDS,
    "minProperties": 1,
    "additionalProperties": False,
}

WINDOW: dict[str, Any] = {
    "type": "object",
    "description": "Weekly ({days, start, end} in the pool's time zone; an end before the "
    "start ends the next day) or one-off ({starts_at, ends_at}, ISO 8601 with an offset).",
    "properties": {
        "days": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(windows.DAYS)},
        },
        "start": {"type": "string", "pattern": _HHMM, "description": "HH:MM, 24-hour."},
        "end": {"type": "string", "pattern": _HHMM, "description": "HH:MM, 24-hour."},
        "starts_at": {"type": "string", "format": "date-time", "maxLength": 64},
        "ends_at": {"type": "string", "format": "date-time", "maxLength": 64},
    },
    "minProperties": 2,
    "additionalProperties": False,
}

ACTION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"enum": ["reclaim"]},
        "device_uuids": {
            "type": ["array", "null"],
            "minItems": 1,
            "items": {"type": "string", "format": "uuid", "minLength": 1, "maxLength": 36},
            "description": "The pool's devices to take back; absent or null: all of them.",
        },
    },
    "required": ["action"],
    "additionalProperties": False,
}
