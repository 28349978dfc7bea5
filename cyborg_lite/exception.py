"""Domain exceptions. They know nothing of HTTP; ``api/errors.py`` maps each family to a status.

Messages are written for the person who sent the request: they name the field or object that
was wrong and, where it helps, what would be right.
"""

from __future__ import annotations

from typing import Any


class CyborgLiteError(Exception):
    """Base of every domain error. ``message`` is the text a client sees."""

    message = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        text = message if message is not None else self.message % kwargs if kwargs else self.message
        super().__init__(text)
        self.message = text


class Invalid(CyborgLiteError):
    """The request is malformed or names impossible values (HTTP 400)."""

    message = "Invalid input."


class Forbidden(CyborgLiteError):
    """Policy or a code-level gate refused the caller (HTTP 403)."""

    message = "Access was denied."


class PolicyNotAuthorized(Forbidden):
    """An oslo.policy rule refused the caller."""

    message = "Access was denied to the following resource: %(action)s"


class ServiceTokenRequired(Forbidden):
    """Bind, unbind and deleting bound ARQs need a service token (CVE-2026-40214)."""

    message = (
        "This operation requires a service token. Use the Compute API to manage instance "
        "accelerators."
    )


class NotFound(CyborgLiteError):
    """The named object does not exist, or the caller may not see it (HTTP 404)."""

    message = "Resource not found."


class Conflict(CyborgLiteError):
    """The request conflicts with the current state (HTTP 409)."""

    message = "Conflict with the current state of the resource."


class ConcurrentUpdate(Conflict):
    """Another writer changed the row first; the caller may retry."""

    message = "The resource was changed by another request; retry."


class NotAcceptable(CyborgLiteError):
    """The feature needs a microversion the request did not ask for (HTTP 406)."""

    message = "Request not acceptable."


class Locked(CyborgLiteError):
    """ARQ list with bind_state=resolved while some are unresolved (HTTP 423, no body)."""

    message = "Some accelerator requests are not resolved yet."


class PayloadTooLarge(CyborgLiteError):
    """A request body over the configured limit (HTTP 413)."""

    message = "Request body too large."


class ServiceUnavailable(CyborgLiteError):
    """A backing service (database, broker) is unreachable (HTTP 503)."""

    message = "The service is temporarily unavailable; try again later."
