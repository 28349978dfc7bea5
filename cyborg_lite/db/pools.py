"""Reader and writer functions for lending pools (issue 17): the pool rows and their
membership, resolved from a selector.

A device is in at most one pool. Membership is resolved in one query that also reads each
selected device's current pool, so a device held by another pool is a ``Conflict`` naming the
device and that pool before anything is written; two creators racing past that check are
stopped by the ``pool_devices`` primary key (the device id), an ``IntegrityError`` that
``db.engine.lost_race`` counts as a race worth retrying. The rules of a pool (its fields
other than selector and owner) are ``lending.pools.Pool``; ``rules`` reads them back.

Windows are ``db/lending_windows.py``; the engine's reads of the devices and the offered
flags are ``db/lending_devices.py``; loans are ``db/loans.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import exc, orm

from cyborg_lite import exception
from cyborg_lite.db import models, query
from cyborg_lite.lending import loans as lending_loans
from cyborg_lite.lending import pools as lending_pools

AP, PD, D = models.AcceleratorPool, models.PoolDevice, models.Device
POOL_FILTERS = ("owner_project_id", "name")
# The selector criteria a pool understands (a rollout's ``current_versions`` does not apply).
SELECTOR_KEYS = ("hosts", "models", "device_uuids")


class Member(NamedTuple):
    """A device a selector reaches, and the pool that holds it now (None: no pool)."""

    device_id: int
    device_uuid: str
    pool_id: int | None
    pool_uuid: str | None
    pool_name: str | None


def _not_found(uuid: str) -> exception.NotFound:
    return exception.NotFound(f"Accelerator pool not found with uuid={uuid}")


def _visible(stmt: sa.Select[Any], project_id: str | None) -> sa.Select[Any]:
    # None: an admin, who sees every pool; else only the project's own pools.
    return stmt if project_id is None else stmt.where(AP.owner_project_id == project_id)


def rules(pool: models.AcceleratorPool) -> lending_pools.Pool:
    """The pool's lending rules, as ``lending.pools.Pool``."""
    borrowers = pool.borrower_project_ids
    return lending_pools.from_dict(
        {
            "name": pool.name,
            "reserve": json.loads(pool.reserve),
            "min_idle_seconds": pool.min_idle_seconds,
            "notice_seconds": pool.notice_seconds,
            "on_reclaim": pool.on_reclaim,
            "borrower_project_ids": None if borrowers is None else json.loads(borrowers),
            "timezone": pool.timezone,
        }
    )


def selector_of(pool: models.AcceleratorPool) -> dict[str, tuple[str, ...]]:
    """The pool's stored selector."""
    return {k: tuple(v) for k, v in json.loads(pool.selector).items()}


def _columns(the_rules: lending_pools.Pool) -> dict[str, Any]:
    borrowers = the_rules.borrower_project_ids
    return {
        "name": the_rules.name,
        "trait": the_rules.trait,
        "reserve": json.dumps(the_rules.reserve.to_dict()),
        "min_idle_seconds": the_rules.min_idle_seconds,
        "notice_seconds": the_rules.notice_seconds,
        "on_reclaim": the_rules.on_reclaim,
        "borrower_project_ids": None if borrowers is None else json.dumps(list(borrowers)),
        "timezone": the_rules.timezone,
    }


def resolve(session: orm.Session, selector: Mapping[str, Sequence[str]]) -> list[Member]:
    """The devices ``selector`` reaches (every criterion given must match; at least one is
    given, as ``firmware.plan.parse_selector`` insists), each with its current pool: one
    query."""
    if not any(k in selector for k in SELECTOR_KEYS):
        raise exception.Invalid("selector: name hosts, models or device_uuids.")
    stmt = (
        sa.select(D.id, D.uuid, PD.pool_id, AP.uuid, AP.name)
        .outerjoin(PD, PD.device_id == D.id)
        .outerjoin(AP, AP.id == PD.pool_id)
    )
    if "hosts" in selector:
        stmt = stmt.where(D.hostname.in_(list(selector["hosts"])))
    if "models" in selector:
        stmt = stmt.where(D.model.in_(list(selector["models"])))
    if "device_uuids" in selector:
        stmt = stmt.where(D.uuid.in_(list(selector["device_uuids"])))
    return [Member(*row) for row in session.execute(stmt.order_by(D.id))]


def _refuse_taken(members: Sequence[Member], pool_id: int | None) -> None:
    for m in members:
        if m.pool_id is not None and m.pool_id != pool_id:
            raise exception.Conflict(
                f"Device {m.device_uuid} is already in pool {m.pool_name} ({m.pool_uuid}); a "
                "device is in at most one pool."
            )


def _refuse_name(session: orm.Session, the_rules: lending_pools.Pool, pool_id: int | None) -> None:
    stmt = sa.select(AP.uuid, AP.name).where(
        sa.or_(AP.name == the_rules.name, AP.trait == the_rules.trait)
    )
    if pool_id is not None:
        stmt = stmt.where(AP.id != pool_id)
    other = session.execute(stmt.limit(1)).first()
    if other is not None:
        raise exception.Conflict(
            f"Pool name {the_rules.name} is taken: pool {other.name} ({other.uuid}) has that "
            f"name or the same trait {the_rules.trait}."
        )


def _add_members(session: orm.Session, pool_id: int, device_ids: Sequence[int]) -> None:
    if device_ids:
        session.execute(
            sa.insert(PD),
            [{"device_id": i, "pool_id": pool_id, "offered": False} for i in device_ids],
        )


def create(
    session: orm.Session,
    the_rules: lending_pools.Pool,
    *,
    owner_project_id: str,
    selector: Mapping[str, Sequence[str]],
) -> models.AcceleratorPool:
    """A pool and its members (the devices ``selector`` reaches now), in the caller's
    transaction; ``Conflict`` for a taken name or trait, or a device of another pool."""
    _refuse_name(session, the_rules, None)
    members = resolve(session, selector)
    _refuse_taken(members, None)
    pool = AP(
        owner_project_id=owner_project_id,
        selector=json.dumps({k: list(v) for k, v in selector.items()}),
        generation=0,
        **_columns(the_rules),
    )
    session.add(pool)
    try:
        session.flush()
    except exc.IntegrityError as err:
        # Raced past _refuse_name: the unique name and trait decide.
        raise exception.Conflict(f"Pool name {the_rules.name} is taken.") from err
    _add_members(session, pool.id, [m.device_id for m in members])
    return pool


def get(
    session: orm.Session, uuid: str, *, project_id: str | None = None, lock: bool = False
) -> models.AcceleratorPool:
    """The pool ``uuid`` if ``project_id`` may see it (None: any), else NotFound; row-locked
    with ``lock``."""
    stmt = _visible(sa.select(AP), project_id).where(AP.uuid == uuid)
    if lock:
        stmt = stmt.with_for_update()
    pool: models.AcceleratorPool | None = session.scalar(stmt)
    if pool is None:
        raise _not_found(uuid)
    return pool


def list_pools(
    session: orm.Session,
    filters: Mapping[str, str],
    *,
    project_id: str | None = None,
    limit: int | None = None,
    marker: str | None = None,
) -> list[models.AcceleratorPool]:
    """Pools ``project_id`` may see matching ``filters`` (``POOL_FILTERS``), oldest first,
    keyset-paged by uuid marker."""
    stmt = _visible(sa.select(AP), project_id)
    for name in POOL_FILTERS:
        if name in filters:
            stmt = stmt.where(getattr(AP, name) == filters[name])
    stmt = query.paginate(session, stmt, AP, limit=limit, marker=marker)
    return list(session.scalars(stmt))


def members(session: orm.Session, pool_id: int) -> list[str]:
    """The uuids of the pool's devices, sorted."""
    return list(
        session.scalars(
            sa.select(D.uuid)
            .join(PD, PD.device_id == D.id)
            .where(PD.pool_id == pool_id)
            .order_by(D.uuid)
        )
    )


def members_of(session: orm.Session, pool_ids: Sequence[int]) -> dict[int, list[str]]:
    """The device uuids of several pools (a list page), sorted per pool; one query."""
    out: dict[int, list[str]] = {i: [] for i in pool_ids}
    if pool_ids:
        rows = session.execute(
            sa.select(PD.pool_id, D.uuid)
            .join(D, D.id == PD.device_id)
            .where(PD.pool_id.in_(list(pool_ids)))
            .order_by(D.uuid)
        )
        for pool_id, uuid in rows:
            out[pool_id].append(uuid)
    return out


def update(
    session: orm.Session,
    pool: models.AcceleratorPool,
    the_rules: lending_pools.Pool,
    *,
    selector: Mapping[str, Sequence[str]] | None = None,
    owner_project_id: str | None = None,
) -> models.AcceleratorPool:
    """Store ``the_rules`` (and a new owner), and with ``selector`` re-resolve membership by
    the create's rule (devices that stay keep their offer; those that leave lose it). The
    update is conditional on the generation read with ``pool``: another writer in between is
    ``ConcurrentUpdate``. Returns the pool as stored."""
    _refuse_name(session, the_rules, pool.id)
    values = _columns(the_rules)
    if owner_project_id is not None:
        values["owner_project_id"] = owner_project_id
    if selector is not None:
        values["selector"] = json.dumps({k: list(v) for k, v in selector.items()})
        wanted = resolve(session, selector)
        _refuse_taken(wanted, pool.id)
        keep = {m.device_id for m in wanted}
        stale = sa.delete(PD).where(PD.pool_id == pool.id)
        if keep:
            stale = stale.where(PD.device_id.not_in(sorted(keep)))
        session.execute(stale.execution_options(synchronize_session=False))
        _add_members(session, pool.id, [m.device_id for m in wanted if m.pool_id is None])
    try:
        done = session.execute(
            sa.update(AP)
            .where(AP.id == pool.id, AP.generation == pool.generation)
            .values(generation=AP.generation + 1, updated_at=models.utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
    except exc.IntegrityError as err:
        raise exception.Conflict(f"Pool name {the_rules.name} is taken.") from err
    if not done.rowcount:  # type: ignore[attr-defined]
        raise exception.ConcurrentUpdate(f"Pool {pool.uuid} was changed meanwhile; try again.")
    session.refresh(pool)
    return pool


def open_loans(session: orm.Session, pool_uuid: str) -> list[str]:
    """Uuids of the pool's active or reclaiming loans, oldest first."""
    return list(
        session.scalars(
            sa.select(models.Loan.uuid)
            .where(
                models.Loan.pool_uuid == pool_uuid,
                models.Loan.state.in_(sorted(lending_loans.OPEN)),
            )
            .order_by(models.Loan.id)
        )
    )


def delete(session: orm.Session, pool: models.AcceleratorPool) -> list[str]:
    """Delete the pool with its membership and windows; ``Conflict`` naming the loans while
    it has active or reclaiming ones. Returns the uuids of the devices it offered (whose
    lending traits must go)."""
    busy = open_loans(session, pool.uuid)
    if busy:
        raise exception.Conflict(
            f"Pool {pool.name} has open loans ({', '.join(busy)}); reclaim them and wait for "
            "them to close before deleting the pool."
        )
    offered = list(
        session.scalars(
            sa.select(D.uuid)
            .join(PD, PD.device_id == D.id)
            .where(PD.pool_id == pool.id, PD.offered.is_(True))
            .order_by(D.uuid)
        )
    )
    # Children explicitly: the ON DELETE CASCADE is there too, but this needs no reliance on it.
    session.execute(sa.delete(PD).where(PD.pool_id == pool.id))
    session.execute(sa.delete(models.PoolWindow).where(models.PoolWindow.pool_id == pool.id))
    session.execute(sa.delete(AP).where(AP.id == pool.id))
    return offered
