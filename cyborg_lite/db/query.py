"""Paging in SQL: keyset pages ordered by the integer primary key, addressed by uuid markers."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception


class _Paged(Protocol):
    id: Any
    uuid: Any


M = TypeVar("M")


def paginate(
    session: orm.Session,
    stmt: sa.Select[Any],
    model: type[Any],
    *,
    limit: int | None,
    marker: str | None,
) -> sa.Select[Any]:
    """Order ``stmt`` by ``model.id`` and keep rows after ``marker`` (a uuid), ``limit`` of them.

    Keyset paging costs the same for every page, however deep (no OFFSET scan). An unknown
    marker is a 400 naming it.
    """
    stmt = stmt.order_by(model.id)
    if marker is not None:
        marker_id = session.scalar(sa.select(model.id).where(model.uuid == marker))
        if marker_id is None:
            raise exception.Invalid(f"Marker {marker} not found.")
        stmt = stmt.where(model.id > marker_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt
