"""Reader functions for deployables, each with its attributes loaded in one query per page."""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models, query


class WithAttributes(NamedTuple):
    """A deployable and its attributes as ``(key, value)`` pairs, in creation order."""

    deployable: models.Deployable
    attributes: list[tuple[str, str]]


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
    found = list(session.scalars(page))
    if not found:
        return []
    attributes = _attributes_of(session, page)
    return [WithAttributes(d, attributes.get(d.id, [])) for d in found]


def get_deployable(session: orm.Session, uuid: str) -> WithAttributes:
    """The deployable with ``uuid`` and its attributes, or NotFound."""
    stmt = sa.select(models.Deployable).where(models.Deployable.uuid == uuid)
    deployable = session.scalar(stmt)
    if deployable is None:
        raise exception.NotFound(f"Deployable not found with uuid={uuid}")
    return WithAttributes(deployable, _attributes_of(session, stmt).get(deployable.id, []))


def find_deployable(session: orm.Session, ref: int | str) -> models.Deployable | None:
    """The deployable whose internal id (an int) or uuid (a str) is ``ref``, if any."""
    column = models.Deployable.id if isinstance(ref, int) else models.Deployable.uuid
    return session.scalar(sa.select(models.Deployable).where(column == ref))
