"""``/healthcheck`` for load balancers: 200 ``OK`` while the database answers, else 503."""

from __future__ import annotations

import falcon
import sqlalchemy as sa
from oslo_log import log as logging

from cyborg_lite.api.services import Services

LOG = logging.getLogger(__name__)


class Health:
    """A cheap liveness and readiness check."""

    def __init__(self, services: Services) -> None:
        self._db = services.db

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """200 with ``OK``, or 503 naming what is down."""
        resp.content_type = falcon.MEDIA_TEXT
        try:
            with self._db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as err:  # any failure to reach the database means "not ready"
            LOG.warning("Health check: database unreachable: %s", err)
            resp.status = falcon.HTTP_503
            resp.text = "database unreachable"
            return
        resp.text = "OK"

    def on_head(self, req: falcon.Request, resp: falcon.Response) -> None:
        """As GET, without the body."""
        self.on_get(req, resp)
        resp.text = None
