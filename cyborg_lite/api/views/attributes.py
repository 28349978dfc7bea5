"""How attributes look in the API."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import models


def serialize(attribute: models.Attribute, base: str) -> dict[str, Any]:
    """An attribute as Cyborg shows it (``deployable_id`` is the internal integer)."""
    return {
        "uuid": attribute.uuid,
        "deployable_id": attribute.deployable_id,
        "key": attribute.key,
        "value": attribute.value,
        "links": util.self_link(base, "attributes", attribute.uuid),
        "created_at": util.timestamp(attribute.created_at),
        "updated_at": util.timestamp(attribute.updated_at),
    }
