"""The SQL of binding ARQs: conditional state changes and attach-handle claims.

Concurrency: every state change is a conditional update (``UPDATE ... WHERE state IN (...)``),
so of two writers racing on one ARQ only one wins. A handle is claimed under a row lock
(``FOR UPDATE SKIP LOCKED``, so concurrent binders take different free handles instead of
queueing on the same one) *and* by a conditional ``UPDATE ... WHERE in_use = false``, which is
what keeps two ARQs off one handle on SQLite, where row locks do not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.arqs import states
from cyborg_lite.db import device_profiles as db_profiles
from cyborg_lite.db import models

AR = models.AcceleratorRequest
AH = models.AttachHandle
# A lost claim race means that handle just became used, so each retry sees fewer candidates;
# the bound only guards against a pathological claim/release churn.
_CLAIM_ATTEMPTS = 64


class Held(NamedTuple):
    """An ARQ's state and the attach handle it holds, as read under its row lock."""

    uuid: str
    state: str
    attach_handle_id: int | None


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def transition(
    session: orm.Session,
    arq_id: int,
    target: str,
    *,
    expect: Mapping[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Move ARQ ``arq_id`` to ``target`` (setting ``values``) if its state allows it and its
    columns still hold ``expect``; False when another writer got there first."""
    stmt = sa.update(AR).where(AR.id == arq_id, AR.state.in_(sorted(states.ALLOWED_FROM[target])))
    for column, value in (expect or {}).items():
        stmt = stmt.where(
            getattr(AR, column).is_(None) if value is None else getattr(AR, column) == value
        )
    stmt = stmt.values(state=target, **values).execution_options(synchronize_session=False)
    return _rowcount(session.execute(stmt)) == 1


def claim_handle(session: orm.Session, device_rp_uuid: str) -> int | None:
    """Mark a free attach handle of the deployable whose RP is ``device_rp_uuid`` in use and
    return its id; None when there is no such deployable, its device is in maintenance or
    drained for a firmware job, or every handle is taken."""
    deployable = session.execute(
        sa.select(models.Deployable.id, models.Device.status, models.Device.firmware_drain)
        .join(models.Device, models.Device.id == models.Deployable.device_id)
        .where(models.Deployable.rp_uuid == device_rp_uuid)
    ).first()
    if deployable is None or not states.schedulable(deployable.status, deployable.firmware_drain):
        return None
    for _ in range(_CLAIM_ATTEMPTS):
        candidate = session.scalar(
            sa.select(AH.id)
            .where(AH.deployable_id == deployable.id, AH.in_use.is_(False))
            .order_by(AH.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if candidate is None:
            return None
        claimed = session.execute(
            sa.update(AH)
            .where(AH.id == candidate, AH.in_use.is_(False))
            .values(in_use=True)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(claimed) == 1:
            return int(candidate)
    return None


def release_handle(session: orm.Session, handle_id: int) -> None:
    """Mark attach handle ``handle_id`` free again."""
    session.execute(
        sa.update(AH)
        .where(AH.id == handle_id)
        .values(in_use=False)
        .execution_options(synchronize_session=False)
    )


def binding_rp(session: orm.Session, arq_id: int) -> str | None:
    """The resource provider a ``BindStarted`` ARQ is being bound to, or None."""
    return session.scalar(
        sa.select(AR.device_rp_uuid).where(AR.id == arq_id, AR.state == states.BIND_STARTED)
    )


def hold_handle(session: orm.Session, arq_id: int, handle_id: int) -> bool:
    """Give a ``BindStarted`` ARQ without a handle the handle ``handle_id``, keeping its
    state; False when another writer changed it first."""
    held = session.execute(
        sa.update(AR)
        .where(AR.id == arq_id, AR.state == states.BIND_STARTED, AR.attach_handle_id.is_(None))
        .values(attach_handle_id=handle_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(held) == 1


def handle_of(session: orm.Session, arq_id: int) -> int | None:
    """The attach handle an ARQ holds, or None."""
    return session.scalar(sa.select(AR.attach_handle_id).where(AR.id == arq_id))


def lock(session: orm.Session, arq_id: int) -> Held:
    """The ARQ's state and handle, its row locked for the rest of the transaction."""
    row = session.execute(
        sa.select(AR.uuid, AR.state, AR.attach_handle_id).where(AR.id == arq_id).with_for_update()
    ).one()
    return Held(str(row.uuid), str(row.state), row.attach_handle_id)


def group_of(session: orm.Session, arq: models.AcceleratorRequest) -> dict[str, str]:
    """The device profile group an ARQ was made from (profiles are immutable)."""
    profile = session.get(models.DeviceProfile, arq.device_profile_id)
    groups = db_profiles.groups_of(profile) if profile is not None else []
    index = arq.device_profile_group_id
    return groups[index] if 0 <= index < len(groups) else {}
