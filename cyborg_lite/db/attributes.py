"""Reader and writer functions for attributes (key/value pairs on a deployable)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import exc, orm

from cyborg_lite import exception
from cyborg_lite.db import deployables, models, query


def list_attributes(
    session: orm.Session,
    *,
    deployable_id: int | None = None,
    key: str | None = None,
    limit: int | None = None,
    marker: str | None = None,
) -> list[models.Attribute]:
    """Attributes matching every given filter exactly, in creation order, paged."""
    stmt = sa.select(models.Attribute)
    if deployable_id is not None:
        stmt = stmt.where(models.Attribute.deployable_id == deployable_id)
    if key is not None:
        stmt = stmt.where(models.Attribute.key == key)
    stmt = query.paginate(session, stmt, models.Attribute, limit=limit, marker=marker)
    return list(session.scalars(stmt))


def get_attribute(session: orm.Session, uuid: str) -> models.Attribute:
    """The attribute with ``uuid``, or NotFound."""
    found = session.scalar(sa.select(models.Attribute).where(models.Attribute.uuid == uuid))
    if found is None:
        raise exception.NotFound(f"Attribute not found with uuid={uuid}")
    return found


def create_attribute(
    session: orm.Session, deployable_ref: int | str, key: str, value: str
) -> models.Attribute:
    """Add ``key = value`` to the deployable named by internal id or uuid.

    An unknown deployable is the caller's mistake in the body (Invalid); a key the deployable
    already has is a Conflict.
    """
    deployable = deployables.find_deployable(session, deployable_ref)
    if deployable is None:
        kind = "id" if isinstance(deployable_ref, int) else "uuid"
        raise exception.Invalid(
            f"Invalid input for field/attribute deployable_id: no deployable with "
            f"{kind}={deployable_ref}."
        )
    clash = sa.select(models.Attribute.id).where(
        models.Attribute.deployable_id == deployable.id, models.Attribute.key == key
    )
    if session.scalar(clash) is not None:
        raise exception.Conflict(
            f"An attribute with key {key} already exists on deployable {deployable.uuid}."
        )
    attribute = models.Attribute(deployable_id=deployable.id, key=key, value=value)
    session.add(attribute)
    try:
        session.flush()
    except exc.IntegrityError as err:
        # Another request added the same key (or removed the deployable) since the check above.
        raise exception.Conflict(
            f"Attribute {key} on deployable {deployable.uuid} was changed by another request; "
            "retry."
        ) from err
    return attribute


def delete_attribute(session: orm.Session, uuid: str) -> None:
    """Remove the attribute with ``uuid``, or NotFound."""
    session.delete(get_attribute(session, uuid))
