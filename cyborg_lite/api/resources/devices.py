"""``/v2/devices``: list, show, enable and disable accelerator devices."""

from __future__ import annotations

import datetime as dt

import falcon

from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import devices as rules
from cyborg_lite.api.resources import usage
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import devices as views
from cyborg_lite.api.views import usage as usage_views
from cyborg_lite.db import devices as db_devices
from cyborg_lite.db import hosts as db_hosts
from cyborg_lite.db import usage_queries
from cyborg_lite.usecases import devices as device_cases

LIST_PARAMS = (*db_devices.FILTERS, "limit", "marker")
# From 2.6: devices idle at least this many seconds.
LIST_PARAMS_USAGE = (*LIST_PARAMS, "idle_for")


class Devices:
    """The devices collection and its items."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._cases = device_cases.Devices(services.db, services)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List devices, filtered by ``type``, ``vendor``, ``hostname`` and from 2.6
        ``idle_for`` (seconds; a non-admin sees only its ARQs' devices then); paged on
        request. From 2.6 each carries its ``usage``, joined in the same query."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.GET_ALL, ctx)
        v = ctx.microversion
        with_usage = microversion.at_least(v, usage.VERSION)
        params = validation.query(req, LIST_PARAMS_USAGE if with_usage else LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        viewer = usage.viewer(ctx) if with_usage else None
        idle_before = None
        if "idle_for" in params:
            idle_for = validation.integer(params["idle_for"], "idle_for", minimum=0)
            idle_before = usage.now(self._s) - dt.timedelta(seconds=idle_for)
        with self._s.db.transaction() as session:
            found = db_devices.list_device_rows(
                session,
                params,
                limit=page.limit,
                marker=page.marker,
                usage=with_usage,
                idle_before=idle_before,
                owner=viewer,
            )
            # One query for the page's hosts, not one per device.
            states = db_hosts.states(session, {d.hostname for d in found})
        base = util.base_url(req, self._s.conf)
        items = [views.serialize_row(row, base, v, states, viewer) for row in found]
        last = found[-1].uuid if found else None
        util.paged_body(req, resp, self._s.conf, "devices", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show one device."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.GET_ONE, ctx)
        v = ctx.microversion
        shown = None
        with self._s.db.transaction() as session:
            device = db_devices.get_device(session, validation.uuid(uuid))
            state = db_hosts.states(session, [device.hostname]).get(device.hostname)
            if microversion.at_least(v, usage.VERSION):
                row = usage_queries.device_usage(session, device.id)
                shown = usage_views.device_usage(row[1:], usage.viewer(ctx)) if row else None
        base = util.base_url(req, self._s.conf)
        util.json_body(resp, views.serialize(device, base, v, state, shown))

    def on_post_disable(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Put a device in maintenance: it is no longer offered for binding."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.DISABLE, ctx)
        self._cases.disable(ctx, validation.uuid(uuid))
        util.no_content(resp)

    def on_post_enable(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Take a device out of maintenance."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.ENABLE, ctx)
        self._cases.enable(ctx, validation.uuid(uuid))
        util.no_content(resp)
