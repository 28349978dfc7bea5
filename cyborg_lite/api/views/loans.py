"""How loans and their account look in the API (2.7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import lending_summary, models


def loan_body(loan: models.Loan, now: dt.datetime) -> dict[str, Any]:
    """A loan; ``duration_seconds`` runs until ``now`` (naive UTC) while it is open."""
    end = loan.ended_at or now
    return {
        "uuid": loan.uuid,
        "pool_uuid": loan.pool_uuid,
        "device_uuid": loan.device_uuid,
        "owner_project_id": loan.owner_project_id,
        "borrower_project_id": loan.borrower_project_id,
        "arq_uuid": loan.arq_uuid,
        "instance_uuid": loan.instance_uuid,
        "state": loan.state,
        "started_at": util.timestamp(loan.started_at),
        "reclaim_deadline": util.timestamp(loan.reclaim_deadline),
        "ended_at": util.timestamp(loan.ended_at),
        "duration_seconds": round(max(0.0, (end - loan.started_at).total_seconds()), 3),
        "energy_kwh": loan.energy_kwh,
    }


def summary_body(
    since: dt.datetime,
    until: dt.datetime,
    group_by: str,
    groups: Sequence[lending_summary.Group],
) -> dict[str, Any]:
    """The account over ``[since, until)``: a line per key."""
    return {
        "since": util.timestamp(since),
        "until": util.timestamp(until),
        "group_by": group_by,
        "groups": [
            {
                "key": g.key,
                "loans": g.loans,
                "device_seconds": g.device_seconds,
                "energy_kwh": g.energy_kwh,
            }
            for g in groups
        ],
    }
