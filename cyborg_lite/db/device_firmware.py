"""Reading a device's firmware components (as its agent last reported them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.db import models


def components(session: orm.Session, device_id: int) -> list[models.FirmwareComponent]:
    """The device's components, by name."""
    stmt = (
        sa.select(models.FirmwareComponent)
        .where(models.FirmwareComponent.device_id == device_id)
        .order_by(models.FirmwareComponent.component)
    )
    return list(session.scalars(stmt))
