"""One error envelope for every failure, and the table mapping domain errors to statuses.

Cyborg's envelope, which real clients parse: ``{"error_message": "<JSON string>"}`` whose inner
object holds ``faultcode`` (``Client`` for 4xx, ``Server`` otherwise), ``faultstring`` (the
message) and ``debuginfo`` (null). 204 and 423 responses carry no body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import falcon
from oslo_log import log as logging

from cyborg_lite import exception

LOG = logging.getLogger(__name__)

# Domain error family -> HTTP status. The most specific class wins (checked in order).
STATUS_BY_ERROR: list[tuple[type[exception.CyborgLiteError], str]] = [
    (exception.Locked, falcon.HTTP_423),
    (exception.NotAcceptable, falcon.HTTP_406),
    (exception.PayloadTooLarge, falcon.HTTP_413),
    (exception.ServiceUnavailable, falcon.HTTP_503),
    (exception.Invalid, falcon.HTTP_400),
    (exception.Forbidden, falcon.HTTP_403),
    (exception.NotFound, falcon.HTTP_404),
    (exception.Conflict, falcon.HTTP_409),
]


# What every 500 says: the details go to the service log, never to the caller.
UNEXPECTED_MESSAGE = "An unexpected error occurred; see the service log."


def envelope(status: str, message: str) -> dict[str, str]:
    """Cyborg's error body for ``status`` and ``message``."""
    code = int(status.split()[0])
    inner = {
        "faultcode": "Client" if 400 <= code < 500 else "Server",
        "faultstring": message,
        "debuginfo": None,
    }
    return {"error_message": json.dumps(inner)}


def body(status: str, message: str) -> bytes:
    """The envelope as the response body (also written outside falcon, by ``api.wsgi``)."""
    return json.dumps(envelope(status, message)).encode()


def _write(resp: falcon.Response, status: str, message: str) -> None:
    resp.status = status
    if status == falcon.HTTP_423:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = b""
        return
    resp.content_type = falcon.MEDIA_JSON
    resp.data = body(status, message)


def handle_domain_error(
    req: falcon.Request, resp: falcon.Response, ex: exception.CyborgLiteError, params: Any
) -> None:
    """falcon error handler for every ``CyborgLiteError``."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(ex, cls):
            _write(resp, status, ex.message)
            return
    LOG.error("Unmapped domain error on %s %s: %s", req.method, req.path, ex)
    _write(resp, falcon.HTTP_500, ex.message)


def handle_http_error(
    req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
) -> None:
    """falcon's own errors (unknown route, bad method, bad JSON) in the same envelope."""
    message = ex.description or ex.title or "Error"
    if isinstance(ex, falcon.HTTPRouteNotFound):
        message = f"The resource could not be found: {req.path}"
    elif isinstance(ex, falcon.HTTPMethodNotAllowed):
        message = f"Method {req.method} is not allowed on {req.path}"
    _write(
        resp,
        ex.status if isinstance(ex.status, str) else falcon.code_to_http_status(ex.status),
        message,
    )
    headers = ex.headers
    pairs: list[tuple[str, str]] = []
    if isinstance(headers, Mapping):
        pairs = list(headers.items())
    elif headers:
        pairs = list(headers)
    for name, value in pairs:
        resp.set_header(name, value)


def handle_unexpected(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
) -> None:
    """Anything else is a bug: log it whole, answer 500 without internals."""
    LOG.exception("Unexpected error on %s %s", req.method, req.path)
    _write(resp, falcon.HTTP_500, UNEXPECTED_MESSAGE)


def register(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Install the handlers; falcon picks the most specific class for each exception."""
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(exception.CyborgLiteError, handle_domain_error)
