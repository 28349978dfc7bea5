"""Aggregate counts for ``/metrics``: one GROUP BY per family, whatever the fleet size."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.db import models


def counts(session: orm.Session) -> dict[str, dict[tuple[str, ...], int]]:
    """Rollouts, firmware jobs, hosts and ARQs by state; devices by type and host state."""
    out: dict[str, dict[tuple[str, ...], int]] = {}
    for family, column in (
        ("rollouts", models.Rollout.state),
        ("firmware_jobs", models.RolloutJob.state),
        ("hosts", models.Host.state),
        ("arqs", models.AcceleratorRequest.state),
    ):
        rows = session.execute(sa.select(column, sa.func.count()).group_by(column)).all()
        out[family] = {(str(state),): int(n) for state, n in rows}
    by_type = session.execute(
        sa.select(models.Device.type, models.Host.state, sa.func.count())
        .outerjoin(models.Host, models.Host.hostname == models.Device.hostname)
        .group_by(models.Device.type, models.Host.state)
    ).all()
    out["devices"] = {(str(t), str(s or "unknown")): int(n) for t, s, n in by_type}
    return out
