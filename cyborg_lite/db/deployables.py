"""Reader functions for deployables, each with its attributes loaded in one query per page."""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models, query
from cyborg_lite.lending.pools import LENDABLE_TRAIT


class WithAttributes(NamedTuple):
    """A deployable and its attributes as ``(key, value)`` pairs, in creation order, and the
    lending traits its device carries while a pool offers it (computed, not stored)."""

    deployable: models.Deployable
    attributes: list[tuple[str, str]]
    lending_traits: tuple[str, ...] = ()


def _with_lending(page: sa.Select[Any]) -> sa.Select[Any]:
    """``page`` with the pool's trait of each deployable whose device is offered now (NULL
    otherwise), by two outer joins: a device is in at most one pool, so no row is repeated
    and the page costs no query more."""
    pd, ap = models.PoolDevice, models.AcceleratorPool
    return (
        page.outerjoin(
            pd, sa.and_(pd.device_id == models.Deployable.device_id, pd.offered.is_(True))
        )
        .outerjoin(ap, ap.id == pd.pool_id)
        .add_columns(ap.trait)
    )


def _lending(trait: str | None) -> tuple[str, ...]:
    return () if trait is None else (LENDABLE_TRAIT, trait)


def _attributes_of(session: orm.Session, page: sa.Select[Any]) -> dict[int, list[tuple[str, str]]]:
    """The attributes of every deployable ``page`` selects, in one query.

    The page's own statement (filters, order, limit) becomes a derived table to join on, so
    the query costs the same however long the list is, and needs no ``IN (...)`` list whose
    size some backends cap. (MySQL refuses LIMIT inside ``IN (subquery)``; a join works.)
    """
    ids = page.with_only_columns(models.Deployable.id).subquery()
    stmt = (
        sa.select(models.Attribute.deployable_id, models.Attribute.key, models.Attribute.value)
        .join(ids, models.Attribute.deployable_id == ids.c.id)
        .order_by(models.Attribute.deployable_id, models.Attribute.id)
    )
    out: dict[int, list[tuple[str, str]]] = {}
    for deployable_id, key, value in session.execute(stmt):
        out.setdefault(deployable_id, []).append((key, value))
    return out


def list_deployables(
    session: orm.Session, *, limit: int | None = None, marker: str | None = None
) -> list[WithAttributes]:
    """Deployables in creation order, paged by ``limit`` and ``marker`` (a uuid)."""
    page = query.paginate(
        session, sa.select(models.Deployable), models.Deployable, limit=limit, marker=marker
    )
    found = session.execute(_with_lending(page)).all()
    if not found:
        return []
    attributes = _attributes_of(session, page)
    return [WithAttributes(d, attributes.get(d.id, []), _lending(trait)) for d, trait in found]


def get_deployable(session: orm.Session, uuid: str) -> WithAttributes:
    """The deployable with ``uuid`` and its attributes, or NotFound."""
    stmt = sa.select(models.Deployable).where(models.Deployable.uuid == uuid)
    row = session.execute(_with_lending(stmt)).first()
    if row is None:
        raise exception.NotFound(f"Deployable not found with uuid={uuid}")
    deployable, trait = row
    return WithAttributes(
        deployable, _attributes_of(session, stmt).get(deployable.id, []), _lending(trait)
    )


def find_deployable(session: orm.Session, ref: int | str) -> models.Deployable | None:
    """The deployable whose internal id (an int) or uuid (a str) is ``ref``, if any."""
    column = models.Deployable.id if isinstance(ref, int) else models.Deployable.uuid
    return session.scalar(sa.select(models.Deployable).where(column == ref))
