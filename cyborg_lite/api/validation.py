"""Request validation: JSON bodies against schemas, query strings against allowed names.

Schemas are plain JSON Schema dicts in ``api/schemas/<noun>.py``; a failure becomes a 400 whose
message names the offending field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid as uuidlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import falcon
import jsonschema
import jsonschema.validators

from cyborg_lite import exception


def _anchored_pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    r"""JSON Schema's ``pattern`` with ``$`` meaning the very end of the string.

    jsonschema applies patterns with Python's ``re.search``, where ``$`` also matches before
    one trailing newline, so ``"^[0-9a-z.]+$"`` let ``"1.0\n"`` through as a version, a
    vendor id or a component name (and from there into logs and tool arguments). ECMA-262,
    which JSON Schema follows, has no such exception; ``\Z`` gives Python the same meaning.
    """
    if not isinstance(instance, str):
        return
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    if re.search(pattern, instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {schema['pattern']!r}")


_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"pattern": _anchored_pattern}
)


def _where(error: jsonschema.ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path)
    return f" (at '{path}')" if path else ""


# Keywords whose jsonschema message does not say what would have been accepted ("is not
# valid under any of the given schemas", "does not match '^...$'"): the failing schema's own
# ``description``, where it has one, says it. The others (bounds, enums, lengths, required)
# already name what is wanted.
_EXPLAINED_BY_DESCRIPTION = frozenset({"anyOf", "oneOf", "type", "pattern"})


def message(error: jsonschema.ValidationError) -> str:
    """The 400 message for ``error``: where (the field's path), jsonschema's words (which name
    the bound or type), for unknown keys the ones accepted, and for a type, pattern or
    alternative the field's description."""
    text = f"Invalid input{_where(error)}: {error.message}"
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if (
        error.validator == "additionalProperties"
        and error.validator_value is False
        and isinstance(error.instance, Mapping)
    ):
        known = list(schema.get("properties", {}))
        unknown = sorted(str(k) for k in error.instance if k not in known)
        path = list(error.absolute_path)
        label = f"{path[-1]} " if path and isinstance(path[-1], str) else ""
        text += f". Unknown {label}field(s): {', '.join(unknown)}"
        text += f"; use {', '.join(known)}." if known else "."
    elif error.validator in _EXPLAINED_BY_DESCRIPTION and schema.get("description"):
        text += f". {schema['description']}"
    return text


def check(schema: Mapping[str, Any], data: Any) -> Any:
    """Validate ``data`` against ``schema``; raise ``Invalid`` naming the first problem."""
    validator = _Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise exception.Invalid(message(errors[0]))
    return data


def body_stream(req: falcon.Request) -> ClientBody:
    """The request body as a stream, chunked bodies included.

    falcon's ``bounded_stream`` reads up to Content-Length, which a chunked request
    (``Transfer-Encoding: chunked``, as ``requests`` sends a generator or an unsized file) does
    not have, so it would read nothing: an upload would be refused as empty, a JSON body as
    missing. A server that de-chunks and ends the input at the body's end says so with
    ``wsgi.input_terminated`` (gunicorn does); then the raw stream is safe to read to EOF.
    Callers bound the amount they read.
    """
    if req.content_length is None and req.env.get("wsgi.input_terminated"):
        return ClientBody(req.stream)
    return ClientBody(req.bounded_stream)


class ClientBody:
    """A request body stream whose read errors are the client's: 400, not 500.

    A client that hangs up inside a chunk, or sends a malformed chunk, makes the WSGI
    server's input raise its own errors (gunicorn's ``NoMoreData``, ``InvalidChunkSize``, ...);
    whatever the server, nothing was wrong with the service.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``Invalid`` when the body cannot be read."""
        try:
            return bytes(self._stream.read(size))
        except Exception as err:  # the server's own error types; any of them means a bad body
            raise exception.Invalid(
                f"The request body could not be read ({type(err).__name__}: {err}); "
                "nothing was stored."
            ) from err


def read_json(req: falcon.Request, max_bytes: int) -> Any:
    """The request body parsed as JSON; 400 for malformed JSON, 413 past ``max_bytes``."""
    length = req.content_length
    if length is not None and length > max_bytes:
        raise exception.PayloadTooLarge(
            f"Request body of {length} bytes is over the limit of {max_bytes} bytes."
        )
    raw = body_stream(req).read(max_bytes + 1)
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


# The largest value of the SQL integer columns numbers are compared with (ids, waves): a
# larger one overflows the database driver rather than matching nothing.
SQL_INT_MAX = 2**31 - 1


def integer(
    value: str, field: str, minimum: int | None = None, maximum: int | None = SQL_INT_MAX
) -> int:
    """``value`` as an int within bounds (``maximum=None``: unbounded, for numbers that are
    capped rather than compared in SQL), or 400 naming ``field``."""
    try:
        number = int(value)
    except (TypeError, ValueError) as err:
        raise exception.Invalid(
            f"Invalid input for field/attribute {field}. Value: '{value}'. Not an integer."
        ) from err
    if minimum is not None and number < minimum:
        raise exception.Invalid(f"Invalid input for field/attribute {field}: must be >= {minimum}.")
    if maximum is not None and number > maximum:
        raise exception.Invalid(f"Invalid input for field/attribute {field}: must be <= {maximum}.")
    return number


def timestamp(value: str, field: str) -> dt.datetime:
    """``value`` (ISO 8601; without an offset it is UTC; from 1970 on, which every database's
    DATETIME holds) as naive UTC, as stored; or 400 naming ``field``."""
    try:
        found = dt.datetime.fromisoformat(value.strip().replace(" ", "+"))
    except (TypeError, ValueError, AttributeError) as err:
        raise exception.Invalid(
            f"Invalid input for field/attribute {field}. Value: '{value}'. Not an ISO 8601 "
            "time (e.g. 2026-03-01T10:00:00Z)."
        ) from err
    if found.tzinfo is not None:
        found = found.astimezone(dt.UTC).replace(tzinfo=None)
    if found.year < 1970:
        raise exception.Invalid(f"Invalid input for field/attribute {field}: must be after 1970.")
    return found
