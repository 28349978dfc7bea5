"""Request validation: JSON bodies against schemas, query strings against allowed names.

Schemas are plain JSON Schema dicts in ``api/schemas/<noun>.py``; a failure becomes a 400 whose
message names the offending field.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Iterable, Mapping
from typing import Any

import falcon
import jsonschema

from cyborg_lite import exception


def _where(error: jsonschema.ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path)
    return f" (at '{path}')" if path else ""


def check(schema: Mapping[str, Any], data: Any) -> Any:
    """Validate ``data`` against ``schema``; raise ``Invalid`` naming the first problem."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        raise exception.Invalid(f"Invalid input{_where(first)}: {first.message}")
    return data


def read_json(req: falcon.Request, max_bytes: int) -> Any:
    """The request body parsed as JSON; 400 for malformed JSON, 413 past ``max_bytes``."""
    length = req.content_length
    if length is not None and length > max_bytes:
        raise exception.PayloadTooLarge(
            f"Request body of {length} bytes is over the limit of {max_bytes} bytes."
        )
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise exception.PayloadTooLarge(f"Request body is over the limit of {max_bytes} bytes.")
    if not raw.strip():
        raise exception.Invalid("A JSON request body is required.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise exception.Invalid(f"Malformed JSON in request body: {err}") from err


def body(req: falcon.Request, schema: Mapping[str, Any], max_bytes: int) -> Any:
    """Read, parse and validate the JSON body in one step."""
    return check(schema, read_json(req, max_bytes))


def query(req: falcon.Request, allowed: Iterable[str]) -> dict[str, str]:
    """The query parameters, refusing any name not in ``allowed`` as Cyborg does."""
    allowed_set = set(allowed)
    params: dict[str, str] = {}
    for name, value in req.params.items():
        if name not in allowed_set:
            raise exception.Invalid(f'Unknown argument: "{name}"')
        if isinstance(value, list):
            value = ",".join(value)
        params[name] = value
    return params


def is_uuid(value: str) -> bool:
    """True for a UUID in any of the usual spellings."""
    try:
        uuidlib.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def uuid(value: str, field: str = "uuid") -> str:
    """``value`` as a canonical lower-case UUID, or 400 in Cyborg's words."""
    try:
        return str(uuidlib.UUID(value))
    except (ValueError, AttributeError, TypeError) as err:
        raise exception.Invalid(
            f"Invalid input for field/attribute {field}. Value: '{value}'. "
            "unable to convert to uuid."
        ) from err


def integer(value: str, field: str, minimum: int | None = None) -> int:
    """``value`` as an int, or 400 naming ``field``."""
    try:
        number = int(value)
    except (TypeError, ValueError) as err:
        raise exception.Invalid(
            f"Invalid input for field/attribute {field}. Value: '{value}'. Not an integer."
        ) from err
    if minimum is not None and number < minimum:
        raise exception.Invalid(f"Invalid input for field/attribute {field}: must be >= {minimum}.")
    return number
