"""The account of loans (issue 17): ``GET /v2/loans/summary``, grouped in SQL.

Per group key (the borrower, the owner, the device's model or the pool): how many loans
overlap ``[since, until)``, their ``device_seconds`` within it (each loan clipped to the
period; an open loan counts until ``now``) and ``energy_kwh``, the sum of the energies known
(a closed loan's whole energy, as stored when it closed; None when no loan of the group has
one: unknown is not zero).

The clipping is ``GREATEST``/``LEAST`` of timestamps and their difference in seconds, which
each dialect spells its own way (``_seconds``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import loans as db_loans
from cyborg_lite.db import models

L = models.Loan
GROUP_BY = ("borrower", "owner", "model", "pool")


class Group(NamedTuple):
    """One line of the account. ``key`` is None for loans whose device is gone (``model``)."""

    key: str | None
    loans: int
    device_seconds: float
    energy_kwh: float | None


def _dialect(session: orm.Session) -> str:
    return session.get_bind().dialect.name


def _greatest(dialect: str, a: Any, b: Any) -> Any:
    # SQLite's two-argument max() is its GREATEST; timestamps compare as their ISO text.
    return sa.func.max(a, b) if dialect == "sqlite" else sa.func.greatest(a, b)


def _least(dialect: str, a: Any, b: Any) -> Any:
    return sa.func.min(a, b) if dialect == "sqlite" else sa.func.least(a, b)


def _seconds(dialect: str, start: Any, end: Any) -> Any:
    """``end - start`` in seconds, as a float expression."""
    if dialect == "sqlite":
        return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
    if dialect == "postgresql":
        return sa.func.extract("epoch", end - start)
    return sa.func.timestampdiff(sa.text("MICROSECOND"), start, end) / 1e6


def _key(group_by: str) -> Any:
    return {
        "borrower": L.borrower_project_id,
        "owner": L.owner_project_id,
        "pool": L.pool_uuid,
        "model": models.Device.model,
    }[group_by]


def summary(
    session: orm.Session,
    *,
    since: dt.datetime,
    until: dt.datetime,
    group_by: str,
    now: dt.datetime,
    project_id: str | None = None,
) -> list[Group]:
    """The account of the loans ``project_id`` may see (None: all) over ``[since, until)``
    (naive UTC), one ``Group`` per key, sorted by key (None last); ``Invalid`` for an unknown
    ``group_by`` or an empty period."""
    if group_by not in GROUP_BY:
        raise exception.Invalid(
            f"group_by: must be one of {', '.join(GROUP_BY)}, not {group_by!r}."
        )
    if until <= since:
        raise exception.Invalid("until: must be after since.")
    dialect = _dialect(session)
    stamp = models.DateTime
    lo = _greatest(dialect, L.started_at, sa.literal(since, stamp))
    end = sa.func.coalesce(L.ended_at, sa.literal(now, stamp))
    hi = _least(dialect, end, sa.literal(until, stamp))
    seconds = sa.func.sum(sa.case((hi > lo, _seconds(dialect, lo, hi)), else_=0.0))
    key = _key(group_by).label("key")
    stmt = sa.select(
        key,
        sa.func.count(L.id).label("loans"),
        seconds.label("device_seconds"),
        sa.func.sum(L.energy_kwh).label("energy_kwh"),
    ).select_from(L)
    if group_by == "model":
        stmt = stmt.outerjoin(models.Device, models.Device.uuid == L.device_uuid)
    stmt = db_loans.overlapping(stmt, since, until)
    if project_id is not None:
        stmt = stmt.where(
            sa.or_(L.owner_project_id == project_id, L.borrower_project_id == project_id)
        )
    rows = session.execute(stmt.group_by(key)).all()
    out = [
        Group(
            row.key,
            int(row.loans),
            round(float(row.device_seconds or 0.0), 3),
            None if row.energy_kwh is None else float(row.energy_kwh),
        )
        for row in rows
    ]
    return sorted(out, key=lambda g: (g.key is None, g.key or ""))
