"""The SQL of a pool's devices for lending (issue 17): the facts the offer rule reads
(``lending.offers.DeviceFacts``), the offered flags, and the bind's look-up of pooled devices.

Each read is one query, whatever the pool's size. Offers change in bulk, by conditional
updates that touch only the rows whose flag changes, so a repeated decision writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.arqs import states
from cyborg_lite.db import models
from cyborg_lite.lending import loans as lending_loans
from cyborg_lite.lending import offers
from cyborg_lite.lending import pools as lending_pools

AP, PD, D = models.AcceleratorPool, models.PoolDevice, models.Device
DEP, AH, AR = models.Deployable, models.AttachHandle, models.AcceleratorRequest
HOST_UP = "up"


def _aware(when: dt.datetime | None) -> dt.datetime | None:
    # SQL keeps naive UTC; the lending rules take aware datetimes.
    return None if when is None else when.replace(tzinfo=dt.UTC)


def device_facts(session: orm.Session, pool_id: int) -> list[offers.DeviceFacts]:
    """The facts of each device of the pool, sorted by uuid, in one query: ``bound`` when an
    ARQ holds one of its attach handles, ``on_loan`` when an open loan names it, ``usable``
    when it is enabled, not missing, not drained for firmware and its host is up."""
    bound = (
        sa.select(AR.id)
        .join(AH, AH.id == AR.attach_handle_id)
        .join(DEP, DEP.id == AH.deployable_id)
        .where(DEP.device_id == D.id)
        .exists()
    )
    on_loan = (
        sa.select(models.Loan.id)
        .where(
            models.Loan.device_uuid == D.uuid,
            models.Loan.state.in_(sorted(lending_loans.OPEN)),
        )
        .exists()
    )
    du = models.DeviceUsage
    rows = session.execute(
        sa.select(
            D.uuid,
            du.idle_since,
            du.last_busy,
            PD.withheld_until,
            bound.label("bound"),
            on_loan.label("on_loan"),
            D.status,
            D.missing,
            D.firmware_drain,
            models.Host.state.label("host_state"),
        )
        .join(PD, PD.device_id == D.id)
        .outerjoin(du, du.device_id == D.id)
        .outerjoin(models.Host, models.Host.hostname == D.hostname)
        .where(PD.pool_id == pool_id)
        .order_by(D.uuid)
    )
    return [
        offers.DeviceFacts(
            uuid=row.uuid,
            idle_since=_aware(row.idle_since),
            last_busy=_aware(row.last_busy),
            bound=bool(row.bound),
            on_loan=bool(row.on_loan),
            withheld_until=_aware(row.withheld_until),
            usable=(
                states.schedulable(row.status, row.firmware_drain)
                and not row.missing
                and row.host_state == HOST_UP
            ),
        )
        for row in rows
    ]


def offered(session: orm.Session, pool_id: int) -> list[str]:
    """The uuids of the pool's devices offered now, sorted."""
    return list(
        session.scalars(
            sa.select(D.uuid)
            .join(PD, PD.device_id == D.id)
            .where(PD.pool_id == pool_id, PD.offered.is_(True))
            .order_by(D.uuid)
        )
    )


def _changed(
    session: orm.Session, pool_id: int, flag: bool, device_uuids: Collection[str] | None, now: Any
) -> list[str]:
    """Set ``offered = flag`` on the pool's devices among ``device_uuids`` (all: None) whose
    flag differs; returns their uuids, sorted."""
    stmt = (
        sa.select(D.id, D.uuid)
        .join(PD, PD.device_id == D.id)
        .where(PD.pool_id == pool_id, PD.offered.is_(not flag))
    )
    if device_uuids is not None:
        stmt = stmt.where(D.uuid.in_(sorted(device_uuids)))
    rows = session.execute(stmt.order_by(D.uuid)).all()
    if rows:
        session.execute(
            sa.update(PD)
            .where(
                PD.pool_id == pool_id,
                PD.device_id.in_([r.id for r in rows]),
                PD.offered.is_(not flag),
            )
            .values(offered=flag, offered_at=now if flag else None)
            .execution_options(synchronize_session=False)
        )
    return [r.uuid for r in rows]


def set_offered(
    session: orm.Session, pool_id: int, device_uuids: Collection[str]
) -> tuple[list[str], list[str]]:
    """Make exactly ``device_uuids`` the pool's offered devices (the engine applies
    ``offers.decide``); returns ``(newly offered, no longer offered)``, the changes to bring
    to the traits."""
    wanted = set(device_uuids)
    current = set(offered(session, pool_id))
    now = models.utcnow()
    gone = _changed(session, pool_id, False, current - wanted, now) if current - wanted else []
    new = _changed(session, pool_id, True, wanted - current, now) if wanted - current else []
    return new, gone


def clear_offers(
    session: orm.Session,
    pool_id: int,
    device_uuids: Collection[str] | None = None,
    *,
    withhold_until: dt.datetime | None = None,
) -> list[str]:
    """Withdraw the offer of the pool's devices among ``device_uuids`` (all: None) at once;
    returns the uuids that were offered. With ``withhold_until`` (naive UTC, an explicit
    reclaim) those devices are not offered again before it, offered or not now."""
    withdrawn = _changed(session, pool_id, False, device_uuids, None)
    if withhold_until is not None:
        stmt = sa.update(PD).where(PD.pool_id == pool_id)
        if device_uuids is not None:
            ids = sa.select(D.id).where(D.uuid.in_(sorted(device_uuids)))
            stmt = stmt.where(PD.device_id.in_(ids.scalar_subquery()))
        session.execute(
            stmt.values(withheld_until=withhold_until).execution_options(synchronize_session=False)
        )
    return withdrawn


def offered_traits(
    session: orm.Session, *, hostname: str | None = None, device_uuid: str | None = None
) -> dict[str, tuple[str, ...]]:
    """The lending traits of the offered devices of ``hostname`` (or the one device
    ``device_uuid``): ``{device uuid: (CUSTOM_CYBORG_LENDABLE, the pool's trait)}``, in one
    query. They are computed, never stored as attributes: an agent's report reconciles a
    deployable's attributes and would remove them."""
    stmt = (
        sa.select(D.uuid, AP.trait)
        .join(PD, PD.device_id == D.id)
        .join(AP, AP.id == PD.pool_id)
        .where(PD.offered.is_(True))
    )
    if hostname is not None:
        stmt = stmt.where(D.hostname == hostname)
    if device_uuid is not None:
        stmt = stmt.where(D.uuid == device_uuid)
    return {uuid: (lending_pools.LENDABLE_TRAIT, trait) for uuid, trait in session.execute(stmt)}


class Pooled(NamedTuple):
    """A pooled device a bind targets: its pool's owner, borrowers and whether it is offered
    now. ``borrower_project_ids`` None lends to any project."""

    rp_uuid: str
    device_id: int
    device_uuid: str
    pool_id: int
    pool_uuid: str
    pool_name: str
    owner_project_id: str
    borrower_project_ids: tuple[str, ...] | None
    offered: bool


def pooled_by_rp(session: orm.Session, rp_uuids: Sequence[str]) -> dict[str, Pooled]:
    """The pooled devices among the deployables whose RPs are ``rp_uuids``: one query on the
    deployables' RP index and the pool_devices key; empty when none is pooled."""
    wanted = sorted(set(rp_uuids))
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(
            DEP.rp_uuid,
            D.id,
            D.uuid,
            AP.id,
            AP.uuid,
            AP.name,
            AP.owner_project_id,
            AP.borrower_project_ids,
            PD.offered,
        )
        .join(PD, PD.device_id == DEP.device_id)
        .join(D, D.id == DEP.device_id)
        .join(AP, AP.id == PD.pool_id)
        .where(DEP.rp_uuid.in_(wanted))
    )
    out: dict[str, Pooled] = {}
    for rp, dev_id, dev_uuid, pid, puuid, pname, owner, borrowers, is_offered in rows:
        out[str(rp)] = Pooled(
            str(rp),
            dev_id,
            dev_uuid,
            pid,
            puuid,
            pname,
            owner,
            None if borrowers is None else tuple(json.loads(borrowers)),
            bool(is_offered),
        )
    return out


def lock_offer(session: orm.Session, device_id: int) -> bool:
    """Whether the device is offered now, its pool_devices row locked for the transaction: a
    borrower's bind holds it against a reclaim that withdraws the offer meanwhile (which
    updates the same row), so either the reclaim sees the loan or the bind sees no offer."""
    flag = session.scalar(sa.select(PD.offered).where(PD.device_id == device_id).with_for_update())
    return bool(flag)
