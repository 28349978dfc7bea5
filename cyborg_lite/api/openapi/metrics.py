"""OpenAPI for ``/metrics``."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import errors, operation
from cyborg_lite.api.policies import metrics as rules

SCHEMAS: dict[str, Any] = {}

PATHS: dict[str, Any] = {
    "/metrics": {
        "get": operation(
            "Prometheus metrics: rollouts, firmware jobs, hosts, devices and ARQs by state; each "
            "device's usage figures and idle seconds; idle and allocated-but-idle devices.",
            "health",
            {
                "200": {
                    "description": "Prometheus text exposition format 0.0.4.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **errors(403),
            },
            policy=rules.GET,
            notes="Public unless `[api] metrics_public = false`.",
            versioned=False,
        )
    }
}
