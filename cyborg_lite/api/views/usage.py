"""How usage looks in the API (microversion 2.6): a device's ``usage``, its series, and the
fleet summary. Figures a source cannot give stay null, never 0; times are ISO 8601 UTC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import usage_queries as q


def device_usage(values: Sequence[Any], viewer: str | None) -> dict[str, Any] | None:
    """A device's ``usage`` from its ``usage_queries.USAGE_COLUMNS``; None when ``viewer``
    (a project; None for an admin) may not see it: the device is not bound to its ARQs."""
    util_pct, used, total, power, temp, procs, sampled, idle, last, arq, inst, project = values
    if viewer is not None and (project is None or project != viewer):
        return None
    return {
        "utilization_percent": util_pct,
        "memory_used_bytes": used,
        "memory_total_bytes": total,
        "power_watts": power,
        "temperature_celsius": temp,
        "processes": procs,
        "sampled_at": util.timestamp(sampled),
        "idle_since": util.timestamp(idle),
        "last_busy": util.timestamp(last),
        "allocated_to": None
        if arq is None
        else {"arq_uuid": arq, "instance_uuid": inst, "project_id": project},
    }


def series(device_uuid: str, resolution: int, points: Sequence[q.Point]) -> dict[str, Any]:
    """``GET /v2/devices/{uuid}/usage``'s body."""
    return {
        "device_uuid": device_uuid,
        "resolution_seconds": resolution,
        "samples": [
            {
                "start": util.timestamp(p.start),
                "utilization_percent_mean": p.utilization_percent_mean,
                "utilization_percent_max": p.utilization_percent_max,
                "memory_used_bytes": p.memory_used_bytes,
                "power_watts": p.power_watts,
            }
            for p in points
        ],
    }


def _groups(key: str, groups: Sequence[q.Group]) -> list[dict[str, Any]]:
    return [
        {
            key: g.key,
            "devices": g.devices,
            "busy": g.busy,
            "idle": g.idle,
            "utilization_percent_mean": g.utilization_percent_mean,
        }
        for g in groups
    ]


def fleet(found: q.Fleet) -> dict[str, Any]:
    """``GET /v2/usage``'s body."""
    return {
        "by_model": _groups("model", found.by_model),
        "by_host": _groups("hostname", found.by_host),
        "by_project": _groups("project_id", found.by_project),
        "allocated_idle": [
            {
                "device_uuid": a.device_uuid,
                "arq_uuid": a.arq_uuid,
                "instance_uuid": a.instance_uuid,
                "project_id": a.project_id,
                "idle_since": util.timestamp(a.idle_since),
            }
            for a in found.allocated_idle
        ],
    }
