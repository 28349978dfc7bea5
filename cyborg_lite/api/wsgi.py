"""The WSGI application as deployed: the falcon app, behind keystonemiddleware when configured.

``build(conf)`` is what gunicorn workers serve. With ``auth_strategy = keystone`` every path
but the public ones (version documents, healthcheck, OpenAPI document) passes through
``auth_token``, which validates the token and sets the identity headers. Outermost, always,
``RequestIdWrapper`` gives each request its id and turns an exception from any layer outside
falcon into the API's own 500.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

import falcon
from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite.api import errors, middleware
from cyborg_lite.api.app import create_app
from cyborg_lite.db.engine import Database
from cyborg_lite.usecases.ports import Conductor

LOG = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PublicPathDispatcher:
    """Sends public paths straight to the app and everything else through ``protected``."""

    def __init__(
        self, app: WSGIApp, protected: WSGIApp, public: frozenset[str] = middleware.PUBLIC_PATHS
    ) -> None:
        self._app = app
        self._protected = protected
        self._public = public

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Dispatch on PATH_INFO."""
        path = environ.get("PATH_INFO") or "/"
        if path in self._public:
            # Identity headers on a public path are ignored; drop them so no code trusts them.
            for key in [k for k in environ if k.startswith(("HTTP_X_ROLE", "HTTP_X_SERVICE"))]:
                del environ[key]
            return self._app(environ, start_response)
        return self._protected(environ, start_response)


class RequestIdWrapper:
    """The outermost layer. Gives every request its id before anything else runs, so responses
    produced outside falcon (keystonemiddleware's 401) carry ``x-openstack-request-id`` too
    (the falcon ``RequestId`` middleware reuses the id found in the environ); and answers an
    exception raised by an inner layer (keystonemiddleware, or whatever else sits outside
    falcon) with the API's 500 envelope instead of the server's bare one."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Assign the id, make sure the response carries it, and catch what the layers below
        let escape."""
        request_id = environ.setdefault(middleware.ENVIRON_REQUEST_ID, middleware.new_request_id())
        started = False

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            started = True
            if not any(k.lower() == middleware.REQUEST_ID_HEADER for k, _ in headers):
                headers.append((middleware.REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        try:
            return self._app(environ, start)
        except Exception:  # a bug below falcon's handlers: log it whole, answer as falcon would
            LOG.exception(
                "Unexpected error outside the API application on %s %s (%s)",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                request_id,
            )
            payload = errors.body(falcon.HTTP_500, errors.UNEXPECTED_MESSAGE)
            headers = [("Content-Type", falcon.MEDIA_JSON), ("Content-Length", str(len(payload)))]
            # A layer that had already started its response: per PEP 3333, passing exc_info
            # replaces that start while nothing is sent, and makes the server re-raise (and
            # end the connection) once headers are out, where no envelope can follow.
            start(falcon.HTTP_500, headers, sys.exc_info() if started else None)
            return [payload]


def wrap_auth(conf: cfg.ConfigOpts, app: WSGIApp) -> WSGIApp:
    """Put keystonemiddleware's ``auth_token`` in front of ``app`` when configured."""
    if conf.api.auth_strategy != "keystone":
        return app
    from keystonemiddleware import auth_token

    protected = auth_token.AuthProtocol(app, {"oslo_config_config": conf})
    public = middleware.PUBLIC_PATHS | ({"/metrics"} if conf.api.metrics_public else set())
    return PublicPathDispatcher(app, protected, frozenset(public))


def wrap(conf: cfg.ConfigOpts, app: WSGIApp) -> WSGIApp:
    """The WSGI layers around the falcon ``app``: authentication when configured, inside the
    request id and error guard, which must be outermost to see everything the others do."""
    return RequestIdWrapper(wrap_auth(conf, app))


def build(conf: cfg.ConfigOpts, *, conductor: Conductor | None = None) -> WSGIApp:
    """The deployable WSGI app for ``conf``. It builds no Placement or Nova client: the
    conductor talks to them (``conductor`` is its RPC client)."""
    db = Database.from_conf(conf)
    app = create_app(conf, db=db, conductor=conductor)
    return wrap(conf, app)
