"""falcon middleware: request ids, unversioned paths, microversions, the request context.

They run in the order ``app.py`` lists them; each sets its response headers in
``process_request`` so that error responses carry them too.
"""

from __future__ import annotations

import re
import uuid

import falcon
from oslo_config import cfg

from cyborg_lite import context, exception
from cyborg_lite.api import microversion

REQUEST_ID_HEADER = "x-openstack-request-id"
# Where an outer WSGI layer (api/wsgi.py) leaves the id it assigned.
ENVIRON_REQUEST_ID = "cyborg_lite.request_id"
_REQ_ID_RE = re.compile(r"^req-[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

# Paths served without authentication (keystoneauth's discovery reads the version documents).
PUBLIC_PATHS = frozenset({"/", "/v2", "/v2/", "/healthcheck", "/v2/openapi.json"})
# First path segments that are not API resources and so are not rerouted under /v2.
_UNVERSIONED_OK = frozenset({"", "v2", "healthcheck", "metrics"})


def new_request_id() -> str:
    """A fresh ``req-<uuid4>``."""
    return f"req-{uuid.uuid4()}"


class RequestId:
    """Gives every request an id, returned in ``x-openstack-request-id``.

    A well-formed inbound ``X-OpenStack-Request-ID`` is kept as the global request id, to be
    passed on to Placement and Nova.
    """

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Set ``req.context.request_id`` and ``global_request_id`` and the response header."""
        request_id = req.env.get(ENVIRON_REQUEST_ID) or new_request_id()
        inbound = req.get_header("X-OpenStack-Request-ID")
        req.context.request_id = request_id
        req.context.global_request_id = inbound if inbound and _REQ_ID_RE.match(inbound) else None
        resp.set_header(REQUEST_ID_HEADER, request_id)


class UnversionedPaths:
    """Routes ``/devices`` as ``/v2/devices``, as Cyborg does; the CLI relies on it when its
    endpoint lacks ``/v2``."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Rewrite ``req.path`` before routing."""
        path = req.path
        first = path.lstrip("/").split("/", 1)[0]
        if first not in _UNVERSIONED_OK:
            req.path = "/v2" + path


class Microversion:
    """Parses ``OpenStack-API-Version`` on /v2 paths and writes the version headers."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Set ``req.context.microversion``; 406 for a version outside the range."""
        req.context.microversion = microversion.MIN
        if not (req.path == "/v2" or req.path.startswith("/v2/")):
            return
        resp.set_header("OpenStack-API-Minimum-Version", microversion.fmt(microversion.MIN))
        resp.set_header("OpenStack-API-Maximum-Version", microversion.fmt(microversion.MAX))
        resp.set_header("Vary", microversion.HEADER)
        version = microversion.parse(req.get_header(microversion.HEADER))
        req.context.microversion = version
        resp.set_header(
            microversion.HEADER, f"{microversion.SERVICE_TYPE} {microversion.fmt(version)}"
        )


class BodyLimit:
    """Refuses a declared body over ``[api] max_request_body_bytes`` before anyone reads it.

    JSON readers enforce the limit themselves (``validation.read_json``, chunked bodies
    included); this catches the routes that read no body at all, where gunicorn would
    otherwise drain whatever was declared. Streamed uploads have their own limit.
    """

    def __init__(self, max_bytes: int, streamed: frozenset[tuple[str, str]]) -> None:
        self._max = max_bytes
        self._streamed = streamed

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: object
    ) -> None:
        """413 when Content-Length is over the limit on a non-streaming route."""
        length = req.content_length
        if length is None or length <= self._max:
            return
        if (req.method, req.uri_template) in self._streamed:
            return
        raise exception.PayloadTooLarge(
            f"Request body of {length} bytes is over the limit of {self._max} bytes."
        )


class Context:
    """Builds the ``RequestContext`` from keystonemiddleware's headers (or noauth defaults)."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._noauth = conf.api.auth_strategy == "noauth"
        self._default_project = conf.api.noauth_project_id

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Set ``req.context.ctx``."""
        ctx = context.from_headers(
            req.headers,
            request_id=req.context.request_id,
            noauth=self._noauth,
            default_project=self._default_project,
        )
        ctx.microversion = req.context.microversion
        if req.context.global_request_id:
            ctx.global_request_id = req.context.global_request_id
        req.context.ctx = ctx
