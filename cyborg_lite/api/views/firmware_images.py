"""How firmware images look in the API."""

from __future__ import annotations

import json
from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import models


def serialize(image: models.FirmwareImage, base: str) -> dict[str, Any]:
    """An image as the API shows it (the signature text itself is not echoed)."""
    return {
        "uuid": image.uuid,
        "name": image.name,
        "vendor": image.vendor,
        "component": image.component,
        "version": image.version,
        "compatibility": {
            "device_ids": json.loads(image.device_ids),
            "models": json.loads(image.models),
            "min_version": image.min_version,
            "function_id": image.function_id,
            "pr_interface_ids": json.loads(image.pr_interface_ids or "[]"),
        },
        "sha256": image.sha256,
        "size": image.size,
        "signed": image.signed,
        "status": image.status,
        "created_by": {"user_id": image.created_by_user, "project_id": image.created_by_project},
        "uploaded_by": (
            {"user_id": image.uploaded_by_user, "project_id": image.uploaded_by_project}
            if image.status == "active"
            else None
        ),
        "links": util.self_link(base, "firmware_images", image.uuid),
        "created_at": util.timestamp(image.created_at),
        "updated_at": util.timestamp(image.updated_at),
    }
