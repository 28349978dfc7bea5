"""``/metrics``: Prometheus text exposition of what the service manages.

Gauges computed from SQL at scrape time, so every API worker (and every replica) answers the
same; ``api/views/metrics.py`` writes them out.
"""

from __future__ import annotations

import datetime as dt

import falcon

from cyborg_lite.api.policies import metrics as rules
from cyborg_lite.api.resources import usage
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import metrics as views
from cyborg_lite.conf import usage as usage_conf
from cyborg_lite.db import loans_metrics, usage_queries
from cyborg_lite.db import metrics as db_metrics


class Metrics:
    """The scrape target."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Current counts and per-device usage; behind the admin rule unless
        ``[api] metrics_public``. Usage costs two queries: every device's latest figures in
        one join, and the idle counts in GROUP BYs; lending one GROUP BY."""
        if not self._s.conf.api.metrics_public:
            self._s.enforcer.authorize(rules.GET, req.context.ctx)
        now = usage.now(self._s)
        after = int(usage_conf.of(self._s.conf).allocated_idle_after)
        with self._s.db.transaction() as session:
            values = db_metrics.counts(session)
            rows = usage_queries.metric_rows(session)
            idle, allocated = usage_queries.metric_fleet(session, now - dt.timedelta(seconds=after))
            lent = loans_metrics.lent_seconds(session, now)
        resp.content_type = views.CONTENT_TYPE
        resp.text = (
            views.render(values)
            + views.render_usage(rows, idle, allocated, now, usage.busy_after(self._s.conf, now))
            + views.render_lending(lent)
        )
