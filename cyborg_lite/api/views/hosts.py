"""How hosts look in the API (microversion 2.4)."""

from __future__ import annotations

import json
from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import models


def serialize(host: models.Host, counts: dict[str, Any], base: str) -> dict[str, Any]:
    """A host as the API shows it."""
    by_type = counts.get("by_type", {})
    return {
        "hostname": host.hostname,
        "state": host.state,
        "last_heartbeat": util.timestamp(host.last_heartbeat),
        "agent_version": host.agent_version,
        "device_count": sum(by_type.values()),
        "device_counts": dict(sorted(by_type.items())),
        "missing_device_count": counts.get("missing", 0),
        "driver_errors": json.loads(host.driver_errors) if host.driver_errors else [],
        "links": [{"href": f"{base}/v2/hosts/{host.hostname}", "rel": "self"}],
        "created_at": util.timestamp(host.created_at),
        "updated_at": util.timestamp(host.updated_at),
    }
