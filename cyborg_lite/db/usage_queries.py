"""Usage as the API and ``/metrics`` read it (issue 16): every statement aggregates or joins in
SQL, so a request costs the same few queries however many devices there are.

- A device's ``usage``: ``device_usage`` and the ARQ bound to one of its deployables, joined
  to the device list's own query (``with_usage``), never read per device.
- ``series``: one device's rollups of one resolution in a time range (the primary key's range).
- ``fleet``: the summary by model, host and project, and the allocated-but-idle devices: four
  GROUP BY or filtered queries.
- ``metric_rows`` and ``metric_fleet``: ``/metrics``' per-device figures and fleet counts.

Busy and idle as the summary counts them: idle while ``idle_since`` is set; busy while not
idle and seen busy at or after ``busy_after`` (the caller passes now less two report
intervals, so a device whose agent went quiet stops counting as busy); anything else unknown.
Times are naive UTC, as stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.arqs import states
from cyborg_lite.db import models
from cyborg_lite.db import usage as db_usage

D, DU, AR = models.Device, models.DeviceUsage, models.AcceleratorRequest
AH, DEP, R = models.AttachHandle, models.Deployable, models.UsageRollup


def _bound_pairs() -> sa.Select[Any]:
    """(device_id, arq id, project_id) of every Bound ARQ through its attach handle."""
    columns = (DEP.device_id.label("device_id"), AR.id.label("arq_id"), AR.project_id)
    stmt: sa.Select[Any] = sa.select(*columns)  # type: ignore[assignment]
    return (
        stmt.join(AH, AH.deployable_id == DEP.id)
        .join(AR, AR.attach_handle_id == AH.id)
        .where(AR.state == states.BOUND)
    )


def _first_bound_id() -> Any:
    """The id of the first Bound ARQ (the lowest) holding one of the listed device's attach
    handles: a correlated scalar that walks the device's deployables and handles by their
    indexes, once per listed device.

    The state is compared through COALESCE so that no planner reads the ARQs by their state
    index: SQLite, without statistics, started there and read every Bound ARQ of the fleet
    for each device (a page of 1,000 at 10,000 devices took 2.5 s, now 17 ms)."""
    ar, ah, dep = orm.aliased(AR), orm.aliased(AH), orm.aliased(DEP)
    return (
        sa.select(sa.func.min(ar.id))
        .select_from(dep)
        .join(ah, ah.deployable_id == dep.id)
        .join(ar, ar.attach_handle_id == ah.id)
        .where(dep.device_id == D.id, sa.func.coalesce(ar.state, "") == states.BOUND)
        .correlate(D)
        .scalar_subquery()
    )


def _first_bound(column: Any, name: str) -> Any:
    """``column`` of that ARQ, by its primary key. Scalars in the select list, not joins:
    a derived table grouped every Bound ARQ of the fleet for each page, and the scalar in a
    JOIN's ON clause SQLite evaluated for every device and ARQ pair."""
    return sa.select(column).where(AR.id == _first_bound_id()).scalar_subquery().label(name)


# What a device's ``usage`` shows, in this order (``api/views/usage.py`` reads them so).
FIGURES = (
    DU.utilization_percent,
    DU.memory_used_bytes,
    DU.memory_total_bytes,
    DU.power_watts,
    DU.temperature_celsius,
    DU.processes,
    DU.sampled_at,
    DU.idle_since,
    DU.last_busy,
)
ALLOCATED = (
    _first_bound(AR.uuid, "arq_uuid"),
    _first_bound(AR.instance_uuid, "arq_instance_uuid"),
    _first_bound(AR.project_id, "arq_project_id"),
)
USAGE_COLUMNS = (*FIGURES, *ALLOCATED)


def with_usage(stmt: sa.Select[Any]) -> sa.Select[Any]:
    """``stmt`` (a select from ``devices``) with ``USAGE_COLUMNS``: ``device_usage`` by an
    outer join, the ARQ by correlated scalars."""
    return stmt.add_columns(*USAGE_COLUMNS).outerjoin(DU, DU.device_id == D.id)


def idle_before(stmt: sa.Select[Any], before: dt.datetime) -> sa.Select[Any]:
    """Keep devices idle since ``before`` or earlier (``stmt`` joins ``device_usage``: the
    ``idle_since`` index)."""
    return stmt.where(DU.idle_since.is_not(None), DU.idle_since <= before)


def _owned_by(device_id: Any, project_id: str) -> sa.Exists:
    return (
        sa.select(AR.id)
        .join(AH, AR.attach_handle_id == AH.id)
        .join(DEP, AH.deployable_id == DEP.id)
        .where(DEP.device_id == device_id, AR.state == states.BOUND, AR.project_id == project_id)
        .exists()
    )


def owned(stmt: sa.Select[Any], project_id: str | None) -> sa.Select[Any]:
    """Keep devices bound to one of ``project_id``'s ARQs; None keeps every device. An IN
    over the project's ARQs (their ``project_id`` index), not an EXISTS per device: SQLite
    ran that for every row of the fleet."""
    if project_id is None:
        return stmt
    held = (
        sa.select(DEP.device_id)
        .join(AH, AH.deployable_id == DEP.id)
        .join(AR, AR.attach_handle_id == AH.id)
        .where(AR.state == states.BOUND, AR.project_id == project_id)
    )
    return stmt.where(D.id.in_(held))


def device_usage(session: orm.Session, device_id: int) -> sa.Row[Any] | None:
    """One device's ``USAGE_COLUMNS`` (None for a device id that does not exist)."""
    stmt = with_usage(sa.select(D.id)).where(D.id == device_id)
    return session.execute(stmt).first()


def device_visible(session: orm.Session, device_id: int, project_id: str | None) -> bool:
    """Whether ``project_id`` (None: an admin) may see the device's usage."""
    if project_id is None:
        return True
    return bool(session.scalar(sa.select(_owned_by(device_id, project_id))))


# --- the series ----------------------------------------------------------------------------


def resolutions(session: orm.Session) -> list[int]:
    """The resolutions a series may ask for: the agents' steps stored, and hourly."""
    return sorted({*db_usage.full_resolutions(session), db_usage.HOURLY})


class Point(NamedTuple):
    """One step of a device's series."""

    start: dt.datetime
    utilization_percent_mean: float | None
    utilization_percent_max: float | None
    memory_used_bytes: int | None
    power_watts: float | None


def series(
    session: orm.Session, device_id: int, resolution: int, since: dt.datetime, until: dt.datetime
) -> list[Point]:
    """The device's rollups of ``resolution`` starting in [since, until), oldest first (a
    range of the primary key)."""
    rows = session.execute(
        sa.select(*(getattr(R, f) for f in Point._fields))
        .where(
            R.device_id == device_id,
            R.resolution_seconds == resolution,
            R.start >= since,
            R.start < until,
        )
        .order_by(R.start)
    )
    return [Point(*row) for row in rows]


# --- the fleet summary ---------------------------------------------------------------------


class Group(NamedTuple):
    """One entry of a summary group: ``key`` is the model, hostname or project_id."""

    key: str | None
    devices: int
    busy: int
    idle: int
    utilization_percent_mean: float | None


class AllocatedIdle(NamedTuple):
    """A device bound to an ARQ and idle since ``idle_since``."""

    device_uuid: str
    arq_uuid: str
    instance_uuid: str | None
    project_id: str | None
    idle_since: dt.datetime


class Fleet(NamedTuple):
    """The fleet summary."""

    by_model: list[Group]
    by_host: list[Group]
    by_project: list[Group]
    allocated_idle: list[AllocatedIdle]


def _counts(busy_after: dt.datetime) -> tuple[Any, ...]:
    idle = sa.case((DU.idle_since.is_not(None), 1), else_=0)
    busy = sa.case((sa.and_(DU.idle_since.is_(None), DU.last_busy >= busy_after), 1), else_=0)
    return (
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(busy), 0),
        sa.func.coalesce(sa.func.sum(idle), 0),
        sa.func.avg(DU.utilization_percent),
    )


def _groups(rows: Sequence[Any]) -> list[Group]:
    return [
        Group(k, int(n), int(b), int(i), None if u is None else float(u)) for k, n, b, i, u in rows
    ]


def fleet(
    session: orm.Session,
    *,
    project_id: str | None,
    busy_after: dt.datetime,
    allocated_idle_before: dt.datetime,
) -> Fleet:
    """The summary over the devices ``project_id`` may see (None: all), in four queries."""
    counts = _counts(busy_after)
    by: dict[str, list[Group]] = {}
    for name, column in (("model", D.model), ("host", D.hostname)):
        stmt = sa.select(column, *counts).select_from(D).outerjoin(DU, DU.device_id == D.id)
        stmt = owned(stmt, project_id).group_by(column).order_by(column)
        by[name] = _groups(session.execute(stmt).all())
    pairs = _bound_pairs().subquery()
    distinct = (
        sa.select(pairs.c.project_id, pairs.c.device_id)
        .where(pairs.c.project_id.is_not(None))
        .distinct()
    )
    if project_id is not None:
        distinct = distinct.where(pairs.c.project_id == project_id)
    held = distinct.subquery("held")
    by_project = _groups(
        session.execute(
            sa.select(held.c.project_id, *counts)
            .select_from(held)
            .outerjoin(DU, DU.device_id == held.c.device_id)
            .group_by(held.c.project_id)
            .order_by(held.c.project_id)
        ).all()
    )
    idle_stmt = (
        sa.select(D.uuid, AR.uuid, AR.instance_uuid, AR.project_id, DU.idle_since)
        .select_from(AR)
        .join(AH, AR.attach_handle_id == AH.id)
        .join(DEP, AH.deployable_id == DEP.id)
        .join(D, D.id == DEP.device_id)
        .join(DU, DU.device_id == D.id)
        .where(
            AR.state == states.BOUND,
            DU.idle_since.is_not(None),
            DU.idle_since <= allocated_idle_before,
        )
        .order_by(DU.idle_since, AR.id)
    )
    if project_id is not None:
        idle_stmt = idle_stmt.where(AR.project_id == project_id)
    allocated = [AllocatedIdle(*row) for row in session.execute(idle_stmt).all()]  # type: ignore[arg-type]
    return Fleet(by["model"], by["host"], by_project, allocated)


# --- /metrics ------------------------------------------------------------------------------

METRIC_COLUMNS = (
    D.uuid,
    D.hostname,
    D.vendor,
    D.model,
    DU.utilization_percent,
    DU.memory_used_bytes,
    DU.power_watts,
    DU.temperature_celsius,
    DU.idle_since,
    DU.last_busy,
)


def metric_rows(session: orm.Session) -> list[sa.Row[Any]]:
    """``METRIC_COLUMNS`` of every device with usage figures (one join, no per-device read)."""
    stmt: sa.Select[Any] = sa.select(*METRIC_COLUMNS)  # type: ignore[assignment]
    return list(session.execute(stmt.join(DU, DU.device_id == D.id).order_by(D.id)).all())


def metric_fleet(
    session: orm.Session, allocated_idle_before: dt.datetime
) -> tuple[list[tuple[str, int]], list[tuple[str, str, int]]]:
    """Idle devices by model, and devices bound to an ARQ idle since ``allocated_idle_before``
    or earlier by model and project (two GROUP BYs)."""
    idle = session.execute(
        sa.select(D.model, sa.func.count())
        .join(DU, DU.device_id == D.id)
        .where(DU.idle_since.is_not(None))
        .group_by(D.model)
    ).all()
    pairs = _bound_pairs().subquery()
    held = sa.select(pairs.c.project_id, pairs.c.device_id).distinct().subquery("held")
    allocated = session.execute(
        sa.select(D.model, held.c.project_id, sa.func.count())
        .select_from(held)
        .join(D, D.id == held.c.device_id)
        .join(DU, DU.device_id == D.id)
        .where(DU.idle_since.is_not(None), DU.idle_since <= allocated_idle_before)
        .group_by(D.model, held.c.project_id)
    ).all()
    return (
        [(str(m), int(n)) for m, n in idle],
        [(str(m), str(p or ""), int(n)) for m, p, n in allocated],
    )
