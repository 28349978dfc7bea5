"""The lending counter of ``/metrics`` (issue 17): every device-second ever lent, by owner and
borrower, in one GROUP BY.

Loans are kept after they close (the account outlives pools and devices), so the sums only
grow: a Prometheus counter. An open loan counts until ``now``.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.db import lending_summary, models

L = models.Loan


class Lent(NamedTuple):
    """The device-seconds one owner has lent one borrower."""

    owner_project_id: str
    borrower_project_id: str
    device_seconds: float


def lent_seconds(session: orm.Session, now: dt.datetime) -> list[Lent]:
    """Device-seconds lent per (owner, borrower), sorted; ``now`` naive UTC. The seconds use
    the account's per-dialect difference (``db.lending_summary``), so both always agree."""
    dialect = session.get_bind().dialect.name
    end = sa.func.coalesce(L.ended_at, sa.literal(now, models.DateTime))
    # The account's own per-dialect difference of timestamps, so both always agree.
    seconds = lending_summary._seconds(dialect, L.started_at, end)
    rows = session.execute(
        sa.select(
            L.owner_project_id,
            L.borrower_project_id,
            sa.func.sum(sa.case((end > L.started_at, seconds), else_=0.0)),
        )
        .group_by(L.owner_project_id, L.borrower_project_id)
        .order_by(L.owner_project_id, L.borrower_project_id)
    )
    return [Lent(o, b, round(float(s or 0.0), 3)) for o, b, s in rows]
