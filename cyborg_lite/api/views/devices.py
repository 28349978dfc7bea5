"""How devices look in the API."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from cyborg_lite.api import microversion, util
from cyborg_lite.api.views import usage as usage_views
from cyborg_lite.db import models

# Where a list row's usage columns start (``db.devices.LIST_COLUMNS`` come first).
_USAGE_AT = 10


def serialize(
    device: models.Device,
    base: str,
    version: tuple[int, int],
    host_state: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A device as Cyborg shows it; ``status`` from 2.3, its host's ``host_state`` from 2.4,
    its ``usage`` (``views.usage.device_usage``) from 2.6."""
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
    if microversion.at_least(version, (2, 6)):
        body["usage"] = usage
    return body


def serialize_row(
    row: sa.Row[Any],
    base: str,
    version: tuple[int, int],
    states: dict[str, str],
    viewer: str | None = None,
) -> dict[str, Any]:
    """A row of ``db.devices.LIST_COLUMNS`` as ``serialize`` shows a device. Lists take this
    path: unpacking a plain row costs a fraction of an ORM object (``benchmarks/RESULTS.md``).
    From 2.6 the row carries ``usage_queries.USAGE_COLUMNS`` after them, shown to ``viewer``
    (a project, None for an admin) as ``views.usage.device_usage`` says."""
    values = cast(tuple[Any, ...], row)
    uuid, type_, vendor, model, std, vendor_info, hostname, status, created, updated = values[
        :_USAGE_AT
    ]
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
    if version >= (2, 6):
        body["usage"] = usage_views.device_usage(values[_USAGE_AT:], viewer)
    return body
