"""``/v2/hosts`` (microversion 2.4): the hosts running agents, their liveness and devices."""

from __future__ import annotations

import falcon

from cyborg_lite import exception
from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import hosts as rules
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import hosts as views
from cyborg_lite.db import hosts as db_hosts

VERSION = (2, 4)
LIST_PARAMS = (*db_hosts.FILTERS, "limit", "marker")


def _paging(params: dict[str, str], max_limit: int) -> util.Paging:
    # Hosts are named, not numbered: the marker is a hostname, not a uuid.
    page = util.paging({k: v for k, v in params.items() if k != "marker"}, max_limit)
    return util.Paging(limit=page.limit, marker=params.get("marker"))


class Hosts:
    """The hosts collection and its items."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List hosts by name, filtered by ``state``; paged on request."""
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rules.GET_ALL, ctx)
        params = validation.query(req, LIST_PARAMS)
        if "state" in params and params["state"] not in db_hosts.STATES:
            raise exception.Invalid(
                f"Invalid state {params['state']!r}; expected one of {', '.join(db_hosts.STATES)}."
            )
        page = _paging(params, self._s.conf.api.max_limit)
        with self._s.db.transaction() as session:
            found = db_hosts.list_hosts(session, params, limit=page.limit, marker=page.marker)
            counts = db_hosts.device_counts(session, [h.hostname for h in found])
        base = util.base_url(req, self._s.conf)
        items = [views.serialize(h, counts[h.hostname], base) for h in found]
        last = found[-1].hostname if found else None
        util.paged_body(req, resp, self._s.conf, "hosts", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, hostname: str) -> None:
        """Show one host."""
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rules.GET_ONE, ctx)
        with self._s.db.transaction() as session:
            host = db_hosts.get_host(session, hostname)
            counts = db_hosts.device_counts(session, [hostname])
        util.json_body(
            resp, views.serialize(host, counts[hostname], util.base_url(req, self._s.conf))
        )
