"""``/metrics``: Prometheus text exposition of what the service manages.

Gauges computed from SQL at scrape time, so every API worker (and every replica) answers the
same; ``api/views/metrics.py`` writes them out.
"""

from __future__ import annotations

import falcon

from cyborg_lite.api.policies import metrics as rules
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import metrics as views
from cyborg_lite.db import metrics as db_metrics


class Metrics:
    """The scrape target."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Current counts; behind the admin rule unless ``[api] metrics_public``."""
        if not self._s.conf.api.metrics_public:
            self._s.enforcer.authorize(rules.GET, req.context.ctx)
        with self._s.db.transaction() as session:
            values = db_metrics.counts(session)
        resp.content_type = views.CONTENT_TYPE
        resp.text = views.render(values)
