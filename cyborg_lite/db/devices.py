"""Reader and writer functions for devices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models, query, usage_queries

FILTERS = ("type", "vendor", "hostname")


def list_devices(
    session: orm.Session,
    filters: Mapping[str, str],
    *,
    limit: int | None = None,
    marker: str | None = None,
) -> list[models.Device]:
    """Devices matching every given filter exactly (``type``, ``vendor``, ``hostname``)."""
    stmt = sa.select(models.Device)
    for name in FILTERS:
        if name in filters:
            stmt = stmt.where(getattr(models.Device, name) == filters[name])
    stmt = query.paginate(session, stmt, models.Device, limit=limit, marker=marker)
    return list(session.scalars(stmt))


# What a device list shows. Lists read these as plain rows: building 1,000 identity-mapped ORM
# objects was about half the CPU of ``GET /v2/devices`` (benchmarks/RESULTS.md).
LIST_COLUMNS = (
    models.Device.uuid,
    models.Device.type,
    models.Device.vendor,
    models.Device.model,
    models.Device.std_board_info,
    models.Device.vendor_board_info,
    models.Device.hostname,
    models.Device.status,
    models.Device.created_at,
    models.Device.updated_at,
)


def list_device_rows(
    session: orm.Session,
    filters: Mapping[str, str],
    *,
    limit: int | None = None,
    marker: str | None = None,
    usage: bool = False,
    idle_before: dt.datetime | None = None,
    owner: str | None = None,
) -> list[sa.Row[Any]]:
    """Like ``list_devices``, as read-only rows of ``LIST_COLUMNS`` (for the API's lists).

    ``usage`` adds ``usage_queries.USAGE_COLUMNS`` (outer joins in the same query);
    ``idle_before`` (with ``usage``) keeps devices idle since then or earlier, and ``owner``
    those bound to that project's ARQs."""
    stmt: sa.Select[Any] = sa.select(*LIST_COLUMNS)  # type: ignore[assignment]
    for name in FILTERS:
        if name in filters:
            stmt = stmt.where(getattr(models.Device, name) == filters[name])
    if usage:
        stmt = usage_queries.with_usage(stmt)
        if idle_before is not None:
            stmt = usage_queries.owned(usage_queries.idle_before(stmt, idle_before), owner)
    stmt = query.paginate(session, stmt, models.Device, limit=limit, marker=marker)
    return list(session.execute(stmt).all())


def get_device(session: orm.Session, uuid: str) -> models.Device:
    """The device with ``uuid``, or NotFound."""
    device = session.scalar(sa.select(models.Device).where(models.Device.uuid == uuid))
    if device is None:
        raise exception.NotFound(f"Device not found with uuid={uuid}")
    return device


def set_status(session: orm.Session, uuid: str, status: str) -> models.Device:
    """Set a device's ``status`` (``enabled`` or ``maintaining``)."""
    device = get_device(session, uuid)
    if device.status != status:
        device.status = status
        device.generation += 1
    return device
