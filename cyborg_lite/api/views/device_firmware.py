"""How a device's firmware looks in the API (2.4): its components and every job that touched
it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cyborg_lite.api import util
from cyborg_lite.api.views import rollouts as rollout_views
from cyborg_lite.db import models


def serialize(
    device: models.Device,
    parts: Sequence[models.FirmwareComponent],
    history: Sequence[tuple[models.RolloutJob, models.Rollout]],
) -> dict[str, Any]:
    """Components (version, updatable, activation, pending version) and the jobs, each with
    its rollout's image and target version, in the order given (oldest first)."""
    return {
        "device_uuid": device.uuid,
        "hostname": device.hostname,
        "components": [
            {
                "component": c.component,
                "version": c.version,
                "updatable": c.updatable,
                "activation": c.activation,
                "pending_version": c.pending_version,
                "updated_at": util.timestamp(c.updated_at or c.created_at),
            }
            for c in parts
        ],
        "history": [
            {
                **rollout_views.job_body(job, rollout.uuid),
                "image_uuid": rollout.image_uuid,
                "target_version": rollout.target_version,
            }
            for job, rollout in history
        ],
    }
