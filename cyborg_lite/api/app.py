"""The app factory: builds the falcon app from its collaborators; no work at import time."""

from __future__ import annotations

from typing import Any

import falcon
from oslo_config import cfg

from cyborg_lite.api import errors, middleware, routes
from cyborg_lite.api.policy import Enforcer
from cyborg_lite.api.services import Services
from cyborg_lite.db.engine import Database
from cyborg_lite.usecases.ports import Conductor


def create_app(
    conf: cfg.ConfigOpts,
    *,
    db: Database,
    conductor: Conductor | None = None,
    enforcer: Enforcer | None = None,
) -> falcon.App[falcon.Request, falcon.Response]:
    """The falcon WSGI app serving the whole API.

    Middleware order matters: the request id comes first so every response (errors too)
    carries it; unversioned paths are rewritten before the microversion is read (it applies to
    /v2 paths only); the context is built from what the others set; the body limit needs the
    matched route, so it acts after routing (``process_resource``), before any responder reads.
    """
    services = Services(
        conf=conf,
        db=db,
        enforcer=enforcer or Enforcer(conf),
        conductor=conductor,
    )
    components: list[Any] = [
        middleware.RequestId(),
        middleware.UnversionedPaths(),
        middleware.Microversion(),
        middleware.Context(conf),
        middleware.BodyLimit(conf.api.max_request_body_bytes, routes.STREAMED_BODIES),
    ]
    app = falcon.App(middleware=components, cors_enable=False)
    app.req_options.strip_url_path_trailing_slash = True
    # Query values like `?name=a,b` stay one string: the resources split where Cyborg does.
    app.req_options.auto_parse_qs_csv = False
    app.req_options.keep_blank_qs_values = True
    errors.register(app)
    instances: dict[type, object] = {}
    for template, resource_cls, suffix in routes.ROUTES:
        resource = instances.setdefault(resource_cls, resource_cls(services))
        app.add_route(template, resource, suffix=suffix)
    return app
