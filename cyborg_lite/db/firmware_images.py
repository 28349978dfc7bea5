"""Reader and writer functions for the firmware image catalog."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models, query

FILTERS = ("name", "vendor", "component", "version", "status")


def create(
    session: orm.Session,
    *,
    name: str,
    vendor: str,
    component: str,
    version: str,
    device_ids: Sequence[str],
    board_models: Sequence[str],
    min_version: str | None,
    function_id: str | None = None,
    pr_interface_ids: Sequence[str] = (),
    sha256: str | None,
    signature: str | None,
    user_id: str | None,
    project_id: str | None,
) -> models.FirmwareImage:
    """A new catalog entry, ``queued`` until its bytes arrive."""
    image = models.FirmwareImage(
        name=name,
        vendor=vendor,
        component=component,
        version=version,
        device_ids=json.dumps(list(device_ids)),
        models=json.dumps(list(board_models)),
        min_version=min_version,
        function_id=function_id,
        pr_interface_ids=json.dumps(list(pr_interface_ids)),
        sha256=sha256,
        signature=signature,
        signed=False,
        status="queued",
        created_by_user=user_id,
        created_by_project=project_id,
    )
    session.add(image)
    session.flush()
    return image


def get(session: orm.Session, uuid: str) -> models.FirmwareImage:
    """The image with ``uuid``, or NotFound."""
    image = session.scalar(sa.select(models.FirmwareImage).where(models.FirmwareImage.uuid == uuid))
    if image is None:
        raise exception.NotFound(f"Firmware image not found with uuid={uuid}")
    return image


def list_images(
    session: orm.Session,
    filters: Mapping[str, str],
    *,
    limit: int | None = None,
    marker: str | None = None,
) -> list[models.FirmwareImage]:
    """Images matching every given filter exactly, oldest first."""
    stmt = sa.select(models.FirmwareImage)
    for name in FILTERS:
        if name in filters:
            stmt = stmt.where(getattr(models.FirmwareImage, name) == filters[name])
    stmt = query.paginate(session, stmt, models.FirmwareImage, limit=limit, marker=marker)
    return list(session.scalars(stmt))


def activate(
    session: orm.Session,
    uuid: str,
    *,
    sha256: str,
    size: int,
    signed: bool,
    user_id: str | None = None,
    project_id: str | None = None,
) -> models.FirmwareImage:
    """Mark a queued image active with its verified digest and who uploaded it; 409 if it is
    no longer queued (another upload won the race)."""
    result = session.execute(
        sa.update(models.FirmwareImage)
        .where(models.FirmwareImage.uuid == uuid, models.FirmwareImage.status == "queued")
        .values(
            status="active",
            sha256=sha256,
            size=size,
            signed=signed,
            uploaded_by_user=user_id,
            uploaded_by_project=project_id,
            updated_at=models.utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise exception.Conflict(
            f"Firmware image {uuid} already has its bytes; images are immutable."
        )
    session.expire_all()
    return get(session, uuid)


def delete(session: orm.Session, uuid: str) -> models.FirmwareImage:
    """Remove an image's row; the caller removes its bytes once nothing uses them."""
    image = get(session, uuid)
    session.delete(image)
    session.flush()
    return image


def digest_in_use(session: orm.Session, sha256: str) -> bool:
    """True when some active image still has these bytes."""
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(models.FirmwareImage)
            .where(models.FirmwareImage.sha256 == sha256, models.FirmwareImage.status == "active")
        )
        or 0
    ) > 0
