"""Reading the devices a rollout may target, as the planner's ``Candidate`` records.

A handful of set queries, whatever the fleet size: the devices with their host state and the
image component's current version, then which of them an ARQ holds, then which another
unfinished rollout is working on. The selector's hosts, uuids and models narrow it in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.db import models
from cyborg_lite.firmware import plan, states


def _product_id(std_board_info: str | None) -> str | None:
    try:
        info = json.loads(std_board_info or "{}")
    except ValueError:
        return None
    value = info.get("product_id") if isinstance(info, dict) else None
    return str(value).lower().removeprefix("0x") if value else None


def load(
    session: orm.Session,
    component: str,
    selector: Mapping[str, Sequence[str]],
    *,
    exclude_rollout_id: int | None = None,
) -> list[plan.Candidate]:
    """The candidates the ``selector`` can reach, for an image of ``component``."""
    fc = models.FirmwareComponent
    stmt = (
        sa.select(models.Device, models.Host.state, fc.version, fc.updatable)
        .outerjoin(models.Host, models.Host.hostname == models.Device.hostname)
        .outerjoin(fc, sa.and_(fc.device_id == models.Device.id, fc.component == component))
    )
    if "hosts" in selector:
        stmt = stmt.where(models.Device.hostname.in_(selector["hosts"]))
    if "device_uuids" in selector:
        stmt = stmt.where(models.Device.uuid.in_(selector["device_uuids"]))
    if "models" in selector:
        stmt = stmt.where(models.Device.model.in_(selector["models"]))
    rows = session.execute(stmt.order_by(models.Device.id)).all()
    device_ids = [row[0].id for row in rows]
    uuids = [row[0].uuid for row in rows]
    in_use = _held(session, device_ids)
    busy = _busy(session, uuids, exclude_rollout_id)
    out = []
    for device, host_state, version, updatable in rows:
        out.append(
            plan.Candidate(
                uuid=device.uuid,
                hostname=device.hostname,
                vendor=device.vendor,
                model=device.model,
                product_id=_product_id(device.std_board_info),
                host_state=host_state or "down",
                status=device.status,
                in_use=device.id in in_use,
                current_version=version,
                updatable=bool(updatable),
                busy=device.uuid in busy,
            )
        )
    return out


def _chunks(values: Sequence[object], size: int = 500) -> list[Sequence[object]]:
    # Bounded IN lists: some servers limit bind parameters per statement.
    return [values[i : i + size] for i in range(0, len(values), size)]


def _held(session: orm.Session, device_ids: Sequence[int]) -> set[int]:
    """Devices one of whose attach handles an ARQ holds."""
    held: set[int] = set()
    for chunk in _chunks(device_ids):
        stmt = (
            sa.select(models.Deployable.device_id)
            .join(models.AttachHandle, models.AttachHandle.deployable_id == models.Deployable.id)
            .join(
                models.AcceleratorRequest,
                models.AcceleratorRequest.attach_handle_id == models.AttachHandle.id,
            )
            .where(models.Deployable.device_id.in_(chunk))
            .distinct()
        )
        held.update(session.scalars(stmt))
    return held


def _busy(session: orm.Session, uuids: Sequence[str], exclude_rollout_id: int | None) -> set[str]:
    """Devices with a not yet finished job in another unfinished rollout."""
    busy: set[str] = set()
    open_states = [states.PENDING, *states.IN_FLIGHT]
    for chunk in _chunks(uuids):
        stmt = (
            sa.select(models.RolloutJob.device_uuid)
            .join(models.Rollout, models.Rollout.id == models.RolloutJob.rollout_id)
            .where(
                models.RolloutJob.device_uuid.in_(chunk),
                models.RolloutJob.state.in_(open_states),
                models.Rollout.state.in_(states.UNFINISHED),
            )
        )
        if exclude_rollout_id is not None:
            stmt = stmt.where(models.Rollout.id != exclude_rollout_id)
        busy.update(session.scalars(stmt))
    return busy
