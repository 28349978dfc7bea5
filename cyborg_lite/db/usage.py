"""Usage in SQL: a host's summaries stored in three statements, hourly rollups, pruning.

A host's report costs the same three statements however many devices and intervals it holds:
``host_devices`` (its devices, whether each is bound to an ARQ, and each one's
``device_usage`` row, in one query), ``add_rollups`` (one ``usage_rollups`` row per device per
interval, in one bulk insert that skips a key already stored, so a resent interval lands once)
and ``save_latest`` (every ``device_usage`` row in one bulk upsert, which never replaces a row
with older figures). The insert-or-skip and the upsert are each dialect's own: ON CONFLICT on
PostgreSQL and SQLite, INSERT IGNORE and ON DUPLICATE KEY UPDATE on MySQL and MariaDB.

Housekeeping: ``roll_hour`` turns an hour's full-resolution rows into one hourly row per device
(INSERT ... SELECT ... GROUP BY, count-weighted means); ``prune`` deletes a batch of rows older
than a cutoff. Every timestamp is naive UTC, as everywhere in the schema.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql, postgresql, sqlite

from cyborg_lite.arqs import states
from cyborg_lite.db import models

HOURLY = 3600

_rollups: sa.Table = models.UsageRollup.__table__  # type: ignore[assignment]
_latest: sa.Table = models.DeviceUsage.__table__  # type: ignore[assignment]
# device_usage's columns an upsert replaces; sampled_at last: MySQL assigns left to right, and
# every other assignment compares against the stored sampled_at.
_LATEST_COLUMNS = (
    "utilization_percent",
    "memory_used_bytes",
    "memory_total_bytes",
    "power_watts",
    "temperature_celsius",
    "processes",
    "last_busy",
    "idle_since",
    "sampled_at",
)


class Latest(NamedTuple):
    """A ``device_usage`` row: a device's latest figures and its idleness."""

    device_id: int
    sampled_at: dt.datetime
    utilization_percent: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    power_watts: float | None
    temperature_celsius: float | None
    processes: int | None
    last_busy: dt.datetime | None
    idle_since: dt.datetime | None


class HostDevice(NamedTuple):
    """One of a host's devices as a usage report needs it."""

    device_id: int
    stable_id: str
    allocated: bool  # an ARQ in Bound holds one of its attach handles
    latest: Latest | None  # its device_usage row, None before its first summary


class Rollup(NamedTuple):
    """A ``usage_rollups`` row."""

    device_id: int
    resolution_seconds: int
    start: dt.datetime
    samples: int
    utilization_percent_mean: float | None
    utilization_percent_max: float | None
    memory_used_bytes: int | None
    power_watts: float | None
    temperature_celsius: float | None
    processes: int | None
    busy: bool | None


def _bound(device_id: Any) -> sa.Exists:
    """Whether a Bound ARQ holds an attach handle of the device ``device_id`` names."""
    ar, ah, dep = models.AcceleratorRequest, models.AttachHandle, models.Deployable
    return (
        sa.select(ar.id)
        .join(ah, ar.attach_handle_id == ah.id)
        .join(dep, ah.deployable_id == dep.id)
        .where(dep.device_id == device_id, ar.state == states.BOUND)
        .exists()
    )


# Statements built once: a report runs the same three, and building them (the upsert's
# ``excluded`` columns most of all) cost more than running them.
_HOST_DEVICES = (
    sa.select(
        models.Device.id,
        models.Device.stable_id,
        _bound(models.Device.id).label("allocated"),
        *(getattr(models.DeviceUsage, c) for c in Latest._fields if c != "device_id"),
    )
    .outerjoin(models.DeviceUsage, models.DeviceUsage.device_id == models.Device.id)
    .where(models.Device.hostname == sa.bindparam("hostname"))
)


def host_devices(session: orm.Session, hostname: str) -> dict[str, HostDevice]:
    """``hostname``'s devices by stable id, with their ARQ binding and usage row (one query)."""
    found: dict[str, HostDevice] = {}
    for row in session.execute(_HOST_DEVICES, {"hostname": hostname}):
        latest = None
        if row.sampled_at is not None:
            latest = Latest(row.id, *(getattr(row, c) for c in Latest._fields[1:]))
        found[row.stable_id] = HostDevice(row.id, row.stable_id, bool(row.allocated), latest)
    return found


def _dialect(session: orm.Session) -> str:
    return str(session.get_bind().dialect.name)


def _insert_or_skip(session: orm.Session, table: sa.Table) -> Any:
    """An INSERT on ``table`` that skips rows whose key is already stored."""
    return _insert_or_skip_on(_dialect(session), table)


@functools.cache
def _insert_or_skip_on(name: str, table: sa.Table) -> Any:
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return sa.insert(table).prefix_with("IGNORE")


def add_rollups(session: orm.Session, rows: Sequence[Rollup]) -> None:
    """Insert ``rows`` in one bulk statement; a row whose key is stored already is skipped."""
    if rows:
        session.execute(_insert_or_skip(session, _rollups), [r._asdict() for r in rows])


def save_latest(session: orm.Session, rows: Sequence[Latest]) -> None:
    """Insert or replace ``rows`` in one bulk upsert; a stored row with a later
    ``sampled_at`` (a newer summary that arrived first) is kept."""
    if rows:
        session.execute(_upsert_latest(_dialect(session)), [r._asdict() for r in rows])


@functools.cache
def _upsert_latest(name: str) -> Any:
    if name in ("postgresql", "sqlite"):
        insert = postgresql.insert if name == "postgresql" else sqlite.insert
        stmt = insert(_latest)
        return stmt.on_conflict_do_update(
            index_elements=[_latest.c.device_id],
            set_={c: stmt.excluded[c] for c in _LATEST_COLUMNS},
            where=_latest.c.sampled_at < stmt.excluded.sampled_at,
        )
    mstmt = mysql.insert(_latest)
    newer = _latest.c.sampled_at < mstmt.inserted.sampled_at
    assignments = [
        (c, sa.case((newer, mstmt.inserted[c]), else_=_latest.c[c])) for c in _LATEST_COLUMNS
    ]
    return mstmt.on_duplicate_key_update(assignments)


def allocated_of(devices: Iterable[HostDevice]) -> list[str]:
    """The stable ids of those of ``devices`` bound to an ARQ, sorted."""
    return sorted(d.stable_id for d in devices if d.allocated)


# --- housekeeping ---------------------------------------------------------------------------


def latest_hour(session: orm.Session) -> dt.datetime | None:
    """The start of the newest hourly rollup, None when there is none (an index seek)."""
    r = models.UsageRollup
    found: dt.datetime | None = session.scalar(
        sa.select(sa.func.max(r.start)).where(r.resolution_seconds == HOURLY)
    )
    return found


def oldest_start(session: orm.Session, resolutions: Sequence[int]) -> dt.datetime | None:
    """The start of the oldest row of ``resolutions``, None when there is none (an index seek
    per resolution)."""
    r = models.UsageRollup
    found = [
        session.scalar(sa.select(sa.func.min(r.start)).where(r.resolution_seconds == res))
        for res in resolutions
    ]
    starts = [f for f in found if f is not None]
    return min(starts) if starts else None


def full_resolutions(session: orm.Session) -> list[int]:
    """The resolutions below an hour that rows have (agents' report intervals), each found by
    an index seek: no scan of the table, however large."""
    r = models.UsageRollup
    found: list[int] = []
    below = 0
    while True:
        nxt = session.scalar(
            sa.select(sa.func.min(r.resolution_seconds)).where(
                r.resolution_seconds > below, r.resolution_seconds < HOURLY
            )
        )
        if nxt is None:
            return found
        found.append(int(nxt))
        below = int(nxt)


def roll_hour(session: orm.Session, hour: dt.datetime, resolutions: Sequence[int]) -> None:
    """One hourly row per device from its rows of ``resolutions`` starting within the hour
    from ``hour``; a device whose hourly row exists already (another conductor rolled it) is
    skipped. Means are weighted by each row's sample count; maxima stay maxima."""
    if not resolutions:
        return
    r = models.UsageRollup
    weight_util = sa.case((r.utilization_percent_mean.is_not(None), r.samples))
    weight_power = sa.case((r.power_watts.is_not(None), r.samples))
    busy = sa.case((r.busy.is_(True), 1), (r.busy.is_(False), 0))
    summed = (
        sa.select(
            r.device_id,
            sa.literal(HOURLY, sa.Integer).label("resolution_seconds"),
            sa.literal(hour, models.DateTime).label("start"),
            sa.func.sum(r.samples).label("samples"),
            (sa.func.sum(r.utilization_percent_mean * r.samples) / sa.func.sum(weight_util)).label(
                "utilization_percent_mean"
            ),
            sa.func.max(r.utilization_percent_max).label("utilization_percent_max"),
            sa.func.max(r.memory_used_bytes).label("memory_used_bytes"),
            (sa.func.sum(r.power_watts * r.samples) / sa.func.sum(weight_power)).label(
                "power_watts"
            ),
            sa.func.max(r.temperature_celsius).label("temperature_celsius"),
            sa.func.max(r.processes).label("processes"),
            (sa.func.max(busy) == 1).label("busy"),
        )
        .where(
            r.resolution_seconds.in_(list(resolutions)),
            r.start >= hour,
            r.start < hour + dt.timedelta(seconds=HOURLY),
        )
        .group_by(r.device_id)
    )
    columns = [c.name for c in summed.selected_columns]
    session.execute(_insert_or_skip(session, _rollups).from_select(columns, summed))


def prune(session: orm.Session, resolution: int, before: dt.datetime, batch: int) -> int:
    """Delete up to ``batch`` rows of ``resolution`` starting before ``before``, oldest first
    (a read of their keys through the (resolution, start) index, then one DELETE); returns how
    many went."""
    r = models.UsageRollup
    keys = [
        (row.device_id, row.start)
        for row in session.execute(
            sa.select(r.device_id, r.start)
            .where(r.resolution_seconds == resolution, r.start < before)
            .order_by(r.start)
            .limit(batch)
        )
    ]
    if not keys:
        return 0
    session.execute(
        sa.delete(r).where(
            r.resolution_seconds == resolution, sa.tuple_(r.device_id, r.start).in_(keys)
        )
    )
    return len(keys)
