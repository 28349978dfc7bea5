"""``/v2/devices``: list, show, enable and disable accelerator devices."""

from __future__ import annotations

from typing import Any, cast

import falcon
import sqlalchemy as sa

from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import devices as rules
from cyborg_lite.api.services import Services
from cyborg_lite.db import devices as db_devices
from cyborg_lite.db import hosts as db_hosts
from cyborg_lite.db import models

LIST_PARAMS = (*db_devices.FILTERS, "limit", "marker")


def serialize(
    device: models.Device, base: str, version: tuple[int, int], host_state: str | None = None
) -> dict[str, Any]:
    """A device as Cyborg shows it; ``status`` from 2.3, its host's ``host_state`` from 2.4."""
    body: dict[str, Any] = {
        "uuid": device.uuid,
        "type": device.type,
        "vendor": device.vendor,
        "model": device.model,
        "std_board_info": device.std_board_info,
        "vendor_board_info": device.vendor_board_info,
        "hostname": device.hostname,
        "links": util.self_link(base, "devices", device.uuid),
        "created_at": util.timestamp(device.created_at),
        "updated_at": util.timestamp(device.updated_at),
    }
    if microversion.at_least(version, (2, 3)):
        body["status"] = device.status
    if microversion.at_least(version, (2, 4)):
        body["host_state"] = host_state
    return body


def serialize_row(
    row: sa.Row[Any], base: str, version: tuple[int, int], states: dict[str, str]
) -> dict[str, Any]:
    """A row of ``db.devices.LIST_COLUMNS`` as ``serialize`` shows a device. Lists take this
    path: unpacking a plain row costs a fraction of an ORM object (``benchmarks/RESULTS.md``)."""
    uuid, type_, vendor, model, std, vendor_info, hostname, status, created, updated = cast(
        tuple[Any, ...], row
    )
    body: dict[str, Any] = {
        "uuid": uuid,
        "type": type_,
        "vendor": vendor,
        "model": model,
        "std_board_info": std,
        "vendor_board_info": vendor_info,
        "hostname": hostname,
        "links": [{"href": f"{base}/v2/devices/{uuid}", "rel": "self"}],
        "created_at": util.timestamp(created),
        "updated_at": util.timestamp(updated),
    }
    if version >= (2, 3):  # plain tuple order: at_least here cost a tenth of a list
        body["status"] = status
    if version >= (2, 4):
        body["host_state"] = states.get(hostname)
    return body


class Devices:
    """The devices collection and its items."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List devices, filtered by ``type``, ``vendor``, ``hostname``; paged on request."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.GET_ALL, ctx)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        with self._s.db.transaction() as session:
            found = db_devices.list_device_rows(
                session, params, limit=page.limit, marker=page.marker
            )
            # One query for the page's hosts, not one per device.
            states = db_hosts.states(session, {d.hostname for d in found})
        base = util.base_url(req, self._s.conf)
        v = ctx.microversion
        items = [serialize_row(row, base, v, states) for row in found]
        last = found[-1].uuid if found else None
        util.paged_body(req, resp, self._s.conf, "devices", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show one device."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.GET_ONE, ctx)
        with self._s.db.transaction() as session:
            device = db_devices.get_device(session, validation.uuid(uuid))
            state = db_hosts.states(session, [device.hostname]).get(device.hostname)
        base = util.base_url(req, self._s.conf)
        util.json_body(resp, serialize(device, base, ctx.microversion, state))

    def on_post_disable(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Put a device in maintenance: it is no longer offered for binding."""
        self._set_status(req, resp, uuid, rules.DISABLE, "maintaining")

    def on_post_enable(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Take a device out of maintenance."""
        self._set_status(req, resp, uuid, rules.ENABLE, "enabled")

    def _set_status(
        self, req: falcon.Request, resp: falcon.Response, uuid: str, rule: str, status: str
    ) -> None:
        ctx = req.context.ctx
        self._s.enforcer.authorize(rule, ctx)
        uuid = validation.uuid(uuid)
        with self._s.db.transaction() as session:
            db_devices.set_status(session, uuid, status)
        # The conductor brings Placement in line (reserved = total while maintaining, 0 once
        # enabled, from the status just committed). A lost cast is repaired by its periodic
        # sync; SQL already refuses binds to a device in maintenance.
        self._s.tell_conductor("device_changed", ctx, uuid)
        util.no_content(resp)
