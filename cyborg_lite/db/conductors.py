"""Reader and writer functions for the conductors sharing the fleet (issue 18).

Each conductor writes its own row (``heartbeat``: an update, or the insert of its first
beat); every conductor reads the live ones to build the same hash ring. Timestamps are naive
UTC, as everywhere in SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.db import models

C = models.Conductor


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def heartbeat(session: orm.Session, name: str, hostname: str, now: dt.datetime) -> bool:
    """Record that conductor ``name`` is alive at ``now``; True when this beat registered it
    (its first, or the first after its row was pruned as dead)."""
    updated = session.execute(
        sa.update(C)
        .where(C.name == name)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(updated):
        return False
    session.add(C(name=name, hostname=hostname, started_at=now, heartbeat_at=now))
    session.flush()
    return True


def live(session: orm.Session, cutoff: dt.datetime) -> list[str]:
    """The names of the conductors whose last beat is at or after ``cutoff``, sorted."""
    return list(session.scalars(sa.select(C.name).where(C.heartbeat_at >= cutoff).order_by(C.name)))


def listing(session: orm.Session) -> list[models.Conductor]:
    """Every registered conductor, live or not, by name."""
    return list(session.scalars(sa.select(C).order_by(C.name)))


def remove(session: orm.Session, name: str) -> bool:
    """Delete conductor ``name``'s row (a clean stop: its hosts move at once)."""
    return bool(_rowcount(session.execute(sa.delete(C).where(C.name == name))))


def prune(session: orm.Session, cutoff: dt.datetime) -> int:
    """Delete the rows of conductors silent since before ``cutoff``; how many."""
    return _rowcount(session.execute(sa.delete(C).where(C.heartbeat_at < cutoff)))
