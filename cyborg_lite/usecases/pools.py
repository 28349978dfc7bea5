"""Lending pool use cases (issue 17): create, update, delete, windows and reclaim.

``Pools`` is what the API calls: each entry point begins and commits its transaction, then
casts ``pool_changed`` to the conductor, whose lending engine syncs the offers' traits to
Placement and acts on reclaims. The rules are ``lending/`` (fields, windows, loans); the SQL
``db/pools.py``, ``db/lending_windows.py``, ``db/lending_devices.py`` and ``db/loans.py``.

Who owns a pool: ``project_id`` is the caller's project, or None for an admin, as in
``usecases.arqs``. An admin creates a pool for the body's ``owner_project_id`` (its own
project when the body names none) and may move a pool to another owner; anybody else creates
pools for its own project only (a body naming another owner is ``Forbidden``) and sees and
changes only its own pools (another's is NotFound).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.context import RequestContext
from cyborg_lite.db import lending_devices, lending_windows, models
from cyborg_lite.db import loans as db_loans
from cyborg_lite.db import pools as db_pools
from cyborg_lite.db.engine import Database
from cyborg_lite.firmware import plan
from cyborg_lite.lending import loans as lending_loans
from cyborg_lite.lending import pools as lending_pools
from cyborg_lite.lending import windows
from cyborg_lite.usecases import ports

# How far ahead a weekly window must open at least once in the pool's zone to be accepted.
_WEEK = dt.timedelta(days=8)


@dataclasses.dataclass(frozen=True)
class PoolView:
    """A pool with what its representation needs: its rules, selector, devices, windows and
    whether one is open now."""

    pool: models.AcceleratorPool
    rules: lending_pools.Pool
    selector: dict[str, tuple[str, ...]]
    device_uuids: tuple[str, ...]
    windows: tuple[lending_windows.StoredWindow, ...]
    open_now: bool


@dataclasses.dataclass(frozen=True)
class Reclaimed:
    """A reclaim's effect: the devices whose offer was withdrawn, the loans now reclaiming
    and their deadline (naive UTC)."""

    withdrawn: tuple[str, ...]
    reclaiming: tuple[str, ...]
    deadline: dt.datetime


def _aware(now: dt.datetime) -> dt.datetime:
    return now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now


def views(
    session: orm.Session, pools: Sequence[models.AcceleratorPool], now: dt.datetime
) -> list[PoolView]:
    """The views of ``pools`` (a page) at ``now``: two queries besides the pools'."""
    ids = [p.id for p in pools]
    devices = db_pools.members_of(session, ids)
    stored = lending_windows.of_pools(session, ids)
    out = []
    for pool in pools:
        rules = db_pools.rules(pool)
        tz = windows.parse_timezone(rules.timezone)
        mine = tuple(stored[pool.id])
        out.append(
            PoolView(
                pool=pool,
                rules=rules,
                selector=db_pools.selector_of(pool),
                device_uuids=tuple(devices[pool.id]),
                windows=mine,
                open_now=windows.is_open([w.window for w in mine], tz, _aware(now)),
            )
        )
    return out


def parse_selector(body: Any) -> dict[str, tuple[str, ...]]:
    """A pool's selector from its body (as a rollout's, ``plan.parse_selector``: never
    everything by omission), less ``current_versions``, which means nothing for a pool."""
    if not isinstance(body, Mapping):
        raise exception.Invalid(f"selector: must be an object, not {body!r}.")
    if body.get("current_versions") is not None:
        raise exception.Invalid("selector: current_versions does not apply to a pool.")
    return plan.parse_selector(body)


def check_window(window: windows.Window, timezone: str, now: dt.datetime) -> None:
    """``Invalid`` naming the field for a window that can never open from ``now`` in the
    pool's ``timezone``: a one-off window already over, a weekly one with no occurrence in
    the next week (both ends in one DST gap)."""
    tz = windows.parse_timezone(timezone)
    now = _aware(now)
    if isinstance(window, windows.OneOff):
        if window.ends_at <= now:
            raise exception.Invalid("windows: 'ends_at' is in the past.")
        return
    if not windows.occurrences([window], tz, now, now + _WEEK):
        raise exception.Invalid(
            f"windows: 'start' and 'end' never make an open span in time zone {timezone}."
        )


class Pools:
    """The pool API's use cases, one transaction each; the conductor is told after the
    commit. ``clock`` gives naive UTC now (tests fix it)."""

    def __init__(
        self,
        db: Database,
        conductor: ports.Conductor,
        *,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self._db = db
        self._conductor = conductor
        self._clock = clock

    def get(self, pool_uuid: str, *, project_id: str | None) -> PoolView:
        """The pool's view (404 for one ``project_id`` may not see)."""
        with self._db.transaction() as session:
            pool = db_pools.get(session, pool_uuid, project_id=project_id)
            return views(session, [pool], self._clock())[0]

    def list(
        self,
        filters: Mapping[str, str],
        *,
        project_id: str | None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> list[PoolView]:
        """A page of the pools ``project_id`` may see (``db.pools.list_pools``)."""
        with self._db.transaction() as session:
            pools = db_pools.list_pools(
                session, filters, project_id=project_id, limit=limit, marker=marker
            )
            return views(session, pools, self._clock())

    def create(
        self, ctx: RequestContext, body: Mapping[str, Any], *, project_id: str | None
    ) -> PoolView:
        """A pool from ``body`` (``lending.pools.parse`` for its fields, ``parse_selector``
        for its selector) with the devices its selector reaches now; 409 for a device of
        another pool or a taken name."""
        rules = lending_pools.parse(body)
        selector = parse_selector(body.get("selector"))
        owner = _owner(ctx, body.get("owner_project_id"), project_id)
        with self._db.transaction() as session:
            pool = db_pools.create(session, rules, owner_project_id=owner, selector=selector)
            shown = views(session, [pool], self._clock())[0]
        self._conductor.pool_changed(ctx, shown.pool.uuid)
        return shown

    def update(
        self,
        ctx: RequestContext,
        pool_uuid: str,
        body: Mapping[str, Any],
        *,
        project_id: str | None,
    ) -> PoolView:
        """Change the fields ``body`` names (``lending.pools.update``); a ``selector``
        re-resolves membership (409 as for create); ``owner_project_id`` for admins only."""
        selector = parse_selector(body["selector"]) if "selector" in body else None
        owner = body.get("owner_project_id")
        if owner is not None and project_id is not None and owner != project_id:
            raise exception.Forbidden("Only an admin may give a pool to another project.")
        with self._db.transaction() as session:
            pool = db_pools.get(session, pool_uuid, project_id=project_id)
            rules = lending_pools.update(db_pools.rules(pool), body)
            pool = db_pools.update(session, pool, rules, selector=selector, owner_project_id=owner)
            shown = views(session, [pool], self._clock())[0]
        self._conductor.pool_changed(ctx, pool_uuid)
        return shown

    def delete(self, ctx: RequestContext, pool_uuid: str, *, project_id: str | None) -> None:
        """Delete the pool (409 naming its open loans while it has any); the engine then
        takes the lending traits off the devices it offered."""
        with self._db.transaction() as session:
            db_pools.delete(session, db_pools.get(session, pool_uuid, project_id=project_id))
        self._conductor.pool_changed(ctx, pool_uuid)

    def add_window(
        self,
        ctx: RequestContext,
        pool_uuid: str,
        body: Any,
        *,
        project_id: str | None,
    ) -> lending_windows.StoredWindow:
        """Add a lending window (``lending.windows.parse``, then ``check_window`` in the
        pool's time zone); 400 naming the field."""
        window = windows.parse(body)
        with self._db.transaction() as session:
            pool = db_pools.get(session, pool_uuid, project_id=project_id)
            check_window(window, pool.timezone, self._clock())
            row = lending_windows.add(session, pool.id, window)
            stored = lending_windows.StoredWindow(row.uuid, window)
        self._conductor.pool_changed(ctx, pool_uuid)
        return stored

    def remove_window(
        self, ctx: RequestContext, pool_uuid: str, window_uuid: str, *, project_id: str | None
    ) -> None:
        """Remove a window of the pool (404 for one it does not have)."""
        with self._db.transaction() as session:
            pool = db_pools.get(session, pool_uuid, project_id=project_id)
            lending_windows.delete(session, pool.id, window_uuid)
        self._conductor.pool_changed(ctx, pool_uuid)

    def reclaim(
        self,
        ctx: RequestContext,
        pool_uuid: str,
        device_uuids: Sequence[str] | None,
        *,
        project_id: str | None,
    ) -> Reclaimed:
        """The owner wants ``device_uuids`` of the pool back (all of it: None): their offers
        are withdrawn at once (no new loan), and each active loan on them goes
        ``reclaiming`` with the deadline now + the pool's ``notice_seconds``; the engine
        announces and acts on them. 400 naming a device not in the pool."""
        with self._db.transaction() as session:
            pool = db_pools.get(session, pool_uuid, project_id=project_id)
            if device_uuids is not None:
                members = set(db_pools.members(session, pool.id))
                strangers = sorted(set(device_uuids) - members)
                if strangers:
                    raise exception.Invalid(
                        f"device_uuids: {strangers[0]} is not a device of pool {pool.name}."
                    )
            now = self._clock()
            deadline = lending_loans.reclaim_deadline(now, pool.notice_seconds)
            # The devices stay with the owner until the window open now closes: the next
            # pass must not offer them again (lending.offers' "reclaimed").
            span_end = windows.occurrence_end(
                [w.window for w in lending_windows.list_windows(session, pool.id)],
                windows.parse_timezone(pool.timezone),
                _aware(now),
            )
            until = span_end.astimezone(dt.UTC).replace(tzinfo=None) if span_end else None
            # Offers first: a borrower's bind locks the offer's row, so a loan it opens
            # meanwhile is committed before the loans below are moved, and moves too.
            withdrawn = lending_devices.clear_offers(
                session, pool.id, device_uuids, withhold_until=until
            )
            moved = db_loans.start_reclaim(session, pool.uuid, deadline, device_uuids=device_uuids)
        self._conductor.pool_changed(ctx, pool_uuid)
        return Reclaimed(tuple(withdrawn), tuple(moved), deadline)


def _owner(ctx: RequestContext, named: Any, project_id: str | None) -> str:
    """The owner of a new pool: see the module docstring."""
    if project_id is None:
        owner = named if named is not None else ctx.project_id
        if not isinstance(owner, str) or not owner:
            raise exception.Invalid("owner_project_id: must name the project that owns the pool.")
        return owner
    if named is not None and named != project_id:
        raise exception.Forbidden("A pool can only be created for your own project.")
    return project_id
