"""How device profiles look in the API."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import device_profiles as db_profiles
from cyborg_lite.db import models


def serialize(profile: models.DeviceProfile | Any, base: str) -> dict[str, Any]:
    """A device profile (an object, or a row of ``list_profiles``) as Cyborg shows it."""
    return {
        "uuid": profile.uuid,
        "name": profile.name,
        "description": profile.description,
        "groups": db_profiles.parsed_groups(profile.groups),
        "links": util.self_link(base, "device_profiles", profile.uuid),
        "created_at": util.timestamp(profile.created_at),
        "updated_at": util.timestamp(profile.updated_at),
    }
