"""Reader and writer functions for device profiles (global, immutable named request groups)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import exc, orm

from cyborg_lite import exception
from cyborg_lite.db import models, query


def groups_of(profile: models.DeviceProfile) -> list[dict[str, str]]:
    """The profile's groups, in their stored order."""
    groups: list[dict[str, str]] = json.loads(profile.groups)
    return groups


def create_profile(
    session: orm.Session,
    *,
    name: str,
    groups: Sequence[dict[str, str]],
    description: str | None = None,
    uuid: str | None = None,
) -> models.DeviceProfile:
    """Insert a profile; Conflict when its name (or the client-given uuid) is taken."""
    if session.scalar(sa.select(models.DeviceProfile.id).where(models.DeviceProfile.name == name)):
        raise exception.Conflict(f"A device_profile with name {name} already exists.")
    if uuid is not None and session.scalar(
        sa.select(models.DeviceProfile.id).where(models.DeviceProfile.uuid == uuid)
    ):
        raise exception.Conflict(f"A device_profile with uuid {uuid} already exists.")
    fields: dict[str, Any] = {"name": name, "description": description}
    if uuid is not None:
        fields["uuid"] = uuid
    # Compact JSON keeps the stored text small; order of groups and keys is preserved.
    profile = models.DeviceProfile(groups=json.dumps(list(groups), separators=(",", ":")), **fields)
    session.add(profile)
    try:
        session.flush()
    except exc.IntegrityError as err:
        # Two creators raced past the checks above: the unique constraints decide.
        raise exception.Conflict(f"A device_profile with name {name} already exists.") from err
    return profile


@functools.lru_cache(maxsize=4096)
def parsed_groups(text: str) -> list[dict[str, str]]:
    """``groups`` text parsed, cached: profiles are immutable, so the same text always parses
    the same (parsing was a quarter of a list's CPU). Shared: callers must not change it."""
    groups: list[dict[str, str]] = json.loads(text)
    return groups


def list_profiles(
    session: orm.Session,
    names: Sequence[str] | None = None,
    *,
    limit: int | None = None,
    marker: str | None = None,
) -> list[sa.Row[Any]]:
    """Profiles in creation order, only those named in ``names`` when given: plain rows of the
    columns a listing shows (building ORM objects cost a fifth of a list's CPU)."""
    p = models.DeviceProfile
    columns = (p.uuid, p.name, p.description, p.groups, p.created_at, p.updated_at)
    stmt = cast("sa.Select[Any]", sa.select(*columns))
    if names is not None:
        stmt = stmt.where(models.DeviceProfile.name.in_(list(names)))
    stmt = query.paginate(session, stmt, models.DeviceProfile, limit=limit, marker=marker)
    return list(session.execute(stmt))


def get_by_uuid(session: orm.Session, uuid: str) -> models.DeviceProfile:
    """The profile with ``uuid``, or NotFound."""
    profile = session.scalar(
        sa.select(models.DeviceProfile).where(models.DeviceProfile.uuid == uuid)
    )
    if profile is None:
        raise exception.NotFound(f"Device Profile not found with uuid={uuid}")
    return profile


def get_by_name(session: orm.Session, name: str) -> models.DeviceProfile:
    """The profile named ``name``, or NotFound in Cyborg's words."""
    profile = session.scalar(
        sa.select(models.DeviceProfile).where(models.DeviceProfile.name == name)
    )
    if profile is None:
        raise exception.NotFound(f"Device Profile not found with name={name}")
    return profile


def delete_profiles(session: orm.Session, profiles: Sequence[models.DeviceProfile]) -> None:
    """Delete ``profiles``; Conflict while any accelerator request still uses one of them."""
    ids = [p.id for p in profiles]
    used = session.execute(
        sa.select(models.DeviceProfile.name)
        .join(
            models.AcceleratorRequest,
            models.AcceleratorRequest.device_profile_id == models.DeviceProfile.id,
        )
        .where(models.DeviceProfile.id.in_(ids))
        .limit(1)
    ).scalar()
    if used is not None:
        raise exception.Conflict(
            f"Device profile {used} is in use by accelerator requests; delete them first."
        )
    try:
        session.execute(sa.delete(models.DeviceProfile).where(models.DeviceProfile.id.in_(ids)))
    except exc.IntegrityError as err:
        # An ARQ was created for one of them after the check: the foreign key refuses.
        raise exception.Conflict(
            "A device profile is in use by accelerator requests; delete them first."
        ) from err
