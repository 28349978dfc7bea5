"""Reader and writer functions for loans (issue 17): open, list, move, and a loan's energy.

A loan only moves forward (``lending.loans.can_move``): every move is a conditional update on
the states it may come from, so of two writers (the bind's close and the engine's) one wins
and a repeated move changes nothing. Timestamps are naive UTC, as everywhere in SQL.
Visibility: an admin (``project_id`` None) sees every loan, a project the loans it owns or
borrows. The account (``GET /v2/loans/summary``) is ``db/lending_summary.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.arqs import states as arq_states
from cyborg_lite.db import models, query
from cyborg_lite.lending import loans as lending_loans

L = models.Loan
R = models.UsageRollup
LOAN_FILTERS = ("pool_uuid", "borrower_project_id", "owner_project_id", "state")
# The ARQ states in which a loan's ARQ still holds its device (BindStarted: program at bind
# holds the handle while its bitstream loads).
HOLDING = (arq_states.BIND_STARTED, arq_states.BOUND)


def _visible(stmt: sa.Select[Any], project_id: str | None) -> sa.Select[Any]:
    if project_id is None:
        return stmt
    return stmt.where(sa.or_(L.owner_project_id == project_id, L.borrower_project_id == project_id))


def open_loan(
    session: orm.Session,
    *,
    pool_uuid: str,
    device_uuid: str,
    owner_project_id: str,
    borrower_project_id: str,
    arq_uuid: str,
    instance_uuid: str | None,
    started_at: dt.datetime,
) -> models.Loan:
    """An ``active`` loan, in the caller's transaction (the bind's)."""
    loan = L(
        pool_uuid=pool_uuid,
        device_uuid=device_uuid,
        owner_project_id=owner_project_id,
        borrower_project_id=borrower_project_id,
        arq_uuid=arq_uuid,
        instance_uuid=instance_uuid,
        state=lending_loans.ACTIVE,
        started_at=started_at,
        reclaim_attempts=0,
    )
    session.add(loan)
    session.flush()
    return loan


def get(session: orm.Session, uuid: str, *, project_id: str | None = None) -> models.Loan:
    """The loan ``uuid`` if ``project_id`` may see it, else NotFound."""
    loan: models.Loan | None = session.scalar(
        _visible(sa.select(L), project_id).where(L.uuid == uuid)
    )
    if loan is None:
        raise exception.NotFound(f"Loan not found with uuid={uuid}")
    return loan


def overlapping(
    stmt: sa.Select[Any], since: dt.datetime | None, until: dt.datetime | None
) -> sa.Select[Any]:
    """``stmt`` kept to loans that overlap ``[since, until)``: started before ``until`` and
    not ended by ``since`` (an open loan lasts until now)."""
    if until is not None:
        stmt = stmt.where(L.started_at < until)
    if since is not None:
        stmt = stmt.where(sa.or_(L.ended_at.is_(None), L.ended_at > since))
    return stmt


def list_loans(
    session: orm.Session,
    filters: Mapping[str, Any],
    *,
    project_id: str | None = None,
    limit: int | None = None,
    marker: str | None = None,
) -> list[models.Loan]:
    """Loans ``project_id`` may see matching ``filters`` (``LOAN_FILTERS`` by equality;
    ``since`` and ``until``, naive UTC, for the loans overlapping that period), oldest first,
    keyset-paged by uuid marker."""
    stmt = _visible(sa.select(L), project_id)
    for name in LOAN_FILTERS:
        if name in filters:
            stmt = stmt.where(getattr(L, name) == filters[name])
    stmt = overlapping(stmt, filters.get("since"), filters.get("until"))
    stmt = query.paginate(session, stmt, L, limit=limit, marker=marker)
    return list(session.scalars(stmt))


def _move(session: orm.Session, where: Sequence[Any], new: str, **values: Any) -> int:
    result = session.execute(
        sa.update(L)
        .where(L.state.in_(lending_loans.sources(new)), *where)
        .values(state=new, updated_at=models.utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def start_reclaim(
    session: orm.Session,
    pool_uuid: str,
    deadline: dt.datetime,
    *,
    device_uuids: Sequence[str] | None = None,
    loan_uuids: Sequence[str] | None = None,
) -> list[str]:
    """Move the pool's active loans (on ``device_uuids``, or those of ``loan_uuids``; all
    when neither is given) to ``reclaiming`` with ``deadline``, in one conditional update;
    returns the uuids moved, sorted."""
    where: list[Any] = [L.pool_uuid == pool_uuid, L.state == lending_loans.ACTIVE]
    if device_uuids is not None:
        where.append(L.device_uuid.in_(sorted(device_uuids)))
    if loan_uuids is not None:
        where.append(L.uuid.in_(sorted(loan_uuids)))
    # One UPDATE moves them, so a loan a concurrent bind committed meanwhile moves too (a
    # select-then-update could miss it under MySQL's repeatable read). What moved is what
    # reclaims with exactly this deadline now and did not before.
    before = set(
        session.scalars(
            sa.select(L.uuid).where(
                L.pool_uuid == pool_uuid,
                L.state == lending_loans.RECLAIMING,
                L.reclaim_deadline == deadline,
            )
        )
    )
    _move(session, where, lending_loans.RECLAIMING, reclaim_deadline=deadline)
    after = session.scalars(
        sa.select(L.uuid).where(
            L.pool_uuid == pool_uuid,
            L.state == lending_loans.RECLAIMING,
            L.reclaim_deadline == deadline,
        )
    )
    return sorted(set(after) - before)


def close(
    session: orm.Session, loan_uuid: str, *, ended_at: dt.datetime, energy_kwh: float | None
) -> bool:
    """Close an open loan; False when it was closed already."""
    return bool(
        _move(
            session,
            [L.uuid == loan_uuid],
            lending_loans.CLOSED,
            ended_at=ended_at,
            energy_kwh=energy_kwh,
        )
    )


class OpenLoan(NamedTuple):
    """What closing a loan needs of it."""

    uuid: str
    device_uuid: str
    started_at: dt.datetime


def open_of_arqs(session: orm.Session, arq_uuids: Sequence[str]) -> list[OpenLoan]:
    """The active or reclaiming loans of the ARQs ``arq_uuids`` (by the indexed
    ``arq_uuid``), oldest first."""
    if not arq_uuids:
        return []
    rows = session.execute(
        sa.select(L.uuid, L.device_uuid, L.started_at)
        .where(L.arq_uuid.in_(sorted(set(arq_uuids))), L.state.in_(sorted(lending_loans.OPEN)))
        .order_by(L.id)
    )
    return [OpenLoan(*row) for row in rows]


def close_for_arqs(
    session: orm.Session, arq_uuids: Sequence[str], *, now: dt.datetime | None = None
) -> list[str]:
    """Close the open loans of ``arq_uuids`` (unbound or deleted) at ``now``, each with its
    energy from the usage rollups; returns the uuids closed."""
    ended_at = now or models.utcnow()
    closed = []
    for loan in open_of_arqs(session, arq_uuids):
        kwh = energy(session, loan.device_uuid, loan.started_at, ended_at)
        if close(session, loan.uuid, ended_at=ended_at, energy_kwh=kwh):
            closed.append(loan.uuid)
    return closed


def to_close(session: orm.Session, pool_uuid: str | None = None) -> list[OpenLoan]:
    """Open loans whose ARQ no longer holds the device (gone, or neither ``BindStarted`` nor
    ``Bound``): the engine closes them (a bind's close normally does it first)."""
    holding = (
        sa.select(models.AcceleratorRequest.id)
        .where(
            models.AcceleratorRequest.uuid == L.arq_uuid,
            models.AcceleratorRequest.state.in_(HOLDING),
        )
        .exists()
    )
    stmt = sa.select(L.uuid, L.device_uuid, L.started_at).where(
        L.state.in_(sorted(lending_loans.OPEN)), ~holding
    )
    if pool_uuid is not None:
        stmt = stmt.where(L.pool_uuid == pool_uuid)
    return [OpenLoan(*row) for row in session.execute(stmt.order_by(L.id))]


def past_deadline(
    session: orm.Session, now: dt.datetime, pool_uuid: str | None = None
) -> list[models.Loan]:
    """Reclaiming loans whose deadline is at or before ``now`` (by the state and deadline
    index), oldest deadline first: the engine acts on them with the pool's ``on_reclaim``."""
    stmt = sa.select(L).where(
        L.state == lending_loans.RECLAIMING,
        sa.or_(L.reclaim_deadline.is_(None), L.reclaim_deadline <= now),
    )
    if pool_uuid is not None:
        stmt = stmt.where(L.pool_uuid == pool_uuid)
    return list(session.scalars(stmt.order_by(L.reclaim_deadline, L.id)))


def loan_facts(session: orm.Session, pool_uuid: str) -> list[lending_loans.LoanFacts]:
    """The pool's open loans as ``lending.loans.LoanFacts`` (deadlines aware UTC), one query."""
    holding = (
        sa.select(models.AcceleratorRequest.id)
        .where(
            models.AcceleratorRequest.uuid == L.arq_uuid,
            models.AcceleratorRequest.state.in_(HOLDING),
        )
        .exists()
    )
    rows = session.execute(
        sa.select(L.uuid, L.device_uuid, L.state, L.reclaim_deadline, holding.label("bound"))
        .where(L.pool_uuid == pool_uuid, L.state.in_(sorted(lending_loans.OPEN)))
        .order_by(L.uuid)
    )
    return [
        lending_loans.LoanFacts(
            uuid=row.uuid,
            device_uuid=row.device_uuid,
            state=row.state,
            reclaim_deadline=(
                None
                if row.reclaim_deadline is None
                else row.reclaim_deadline.replace(tzinfo=dt.UTC)
            ),
            arq_bound=bool(row.bound),
        )
        for row in rows
    ]


def energy(
    session: orm.Session, device_uuid: str, started_at: dt.datetime, ended_at: dt.datetime
) -> float | None:
    """The energy (kWh) the device used over ``[started_at, ended_at)``, from its usage
    rollups' mean power, each clipped to the period (``lending.loans.energy_kwh``; None
    when no power is known).

    The finest resolution kept for the device in the period is used; where it starts after
    ``started_at`` (older fine rows pruned), coarser rollups fill the part before it, so no
    time is counted twice."""
    device_id = session.scalar(sa.select(models.Device.id).where(models.Device.uuid == device_uuid))
    if device_id is None or ended_at <= started_at:
        return None
    rows = session.execute(
        sa.select(R.resolution_seconds, R.start, R.power_watts)
        .where(
            R.device_id == device_id,
            R.start < ended_at,
            # An interval lasts at most a day; narrower than any start bound per resolution.
            R.start >= started_at - dt.timedelta(days=1),
        )
        .order_by(R.resolution_seconds, R.start)
    ).all()
    pairs: list[tuple[float, float | None]] = []
    covered_from = ended_at
    for resolution in sorted({r.resolution_seconds for r in rows}):
        floor = covered_from
        for row in rows:
            if row.resolution_seconds != resolution:
                continue
            lo = max(row.start, started_at)
            hi = min(row.start + dt.timedelta(seconds=resolution), ended_at, floor)
            if hi > lo:
                pairs.append(((hi - lo).total_seconds(), row.power_watts))
                covered_from = min(covered_from, lo)
        if covered_from <= started_at:
            break
    return lending_loans.energy_kwh(pairs)


class Reclaiming(NamedTuple):
    """A reclaiming loan as the engine announces and acts on it."""

    uuid: str
    device_uuid: str
    arq_uuid: str
    instance_uuid: str | None
    borrower_project_id: str
    reclaim_deadline: dt.datetime | None
    reclaim_acted_at: dt.datetime | None
    reclaim_attempts: int
    reclaim_error: str | None


def reclaiming(session: orm.Session, pool_uuid: str) -> list[Reclaiming]:
    """The pool's reclaiming loans, by uuid, in one query."""
    rows = session.execute(
        sa.select(
            L.uuid,
            L.device_uuid,
            L.arq_uuid,
            L.instance_uuid,
            L.borrower_project_id,
            L.reclaim_deadline,
            L.reclaim_acted_at,
            L.reclaim_attempts,
            L.reclaim_error,
        )
        .where(L.pool_uuid == pool_uuid, L.state == lending_loans.RECLAIMING)
        .order_by(L.uuid)
    )
    return [Reclaiming(*row) for row in rows]


# What a claimed action's error reads until its outcome is recorded: a conductor that dies
# during the Nova call leaves it, so the action counts as failed and is retried.
ACTION_PENDING = "pending: the on_reclaim action was started and its outcome not recorded"


def claim_action(session: orm.Session, loan_uuid: str, *, attempts: int, now: dt.datetime) -> bool:
    """Claim the next on_reclaim attempt of a reclaiming loan, seen with ``attempts`` so
    far: one conditional update (of two conductors one wins); False when another claimed it
    or the loan is no longer reclaiming."""
    result = session.execute(
        sa.update(L)
        .where(
            L.uuid == loan_uuid,
            L.state == lending_loans.RECLAIMING,
            L.reclaim_attempts == attempts,
        )
        .values(
            reclaim_acted_at=now,
            reclaim_attempts=attempts + 1,
            reclaim_error=ACTION_PENDING,
            updated_at=models.utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_action(session: orm.Session, loan_uuid: str, *, attempt: int, error: str | None) -> bool:
    """Record the outcome of the loan's claimed attempt number ``attempt`` (None: it
    succeeded); False when a later attempt was claimed meanwhile."""
    result = session.execute(
        sa.update(L)
        .where(L.uuid == loan_uuid, L.reclaim_attempts == attempt)
        .values(reclaim_error=error, updated_at=models.utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
