"""Usage fixtures the API, metrics and CLI tests share: devices seeded with ``tests.seed``,
their usage stored through the conductor's real path (``conductor.usage.receive``), ARQs
bound to their attach handles."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa

from cyborg_lite.conductor import usage
from cyborg_lite.db import models
from cyborg_lite.db.engine import Database
from tests import personas, seed

MINUTE = dt.timedelta(minutes=1)
V26 = "2.6"


def aligned_now() -> dt.datetime:
    """Now, on a whole minute (aware UTC)."""
    return dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def summary(
    stable_id: str,
    *,
    util: float | None = 50.0,
    busy: bool | None = True,
    last_busy: dt.datetime | None = None,
    power: float | None = 100.0,
    memory: int | None = 1024,
    temperature: float | None = 50.0,
) -> dict[str, Any]:
    """One device's summary of an interval, as an agent sends it."""
    return {
        "stable_id": stable_id,
        "samples": 6,
        "utilization_percent_mean": util,
        "utilization_percent_max": None if util is None else util + 10,
        "memory_used_bytes": memory,
        "memory_total_bytes": None if memory is None else 4096,
        "power_watts": power,
        "temperature_celsius": temperature,
        "processes": None if busy is None else (1 if busy else 0),
        "busy": busy,
        "last_busy": last_busy.isoformat() if last_busy else None,
    }


def interval(start: dt.datetime, *devices: dict[str, Any]) -> dict[str, Any]:
    """One interval of a minute from ``start``."""
    return {
        "interval_start": start.isoformat(),
        "interval_end": (start + MINUTE).isoformat(),
        "devices": list(devices),
    }


def bind(db: Database, device_id: int, project: str, instance: str | None = None) -> dict[str, str]:
    """A Bound ARQ of ``project`` holding the device's attach handle; its uuids."""
    instance = instance or str(uuid.uuid4())
    with db.transaction() as s:
        profile = s.scalar(sa.select(models.DeviceProfile).where(models.DeviceProfile.name == "g"))
        if profile is None:
            profile = models.DeviceProfile(name="g", groups='[{"resources:PGPU": "1"}]')
            s.add(profile)
            s.flush()
        handle = s.scalar(
            sa.select(models.AttachHandle.id)
            .join(models.Deployable)
            .where(models.Deployable.device_id == device_id)
        )
        arq = models.AcceleratorRequest(
            state="Bound",
            device_profile_id=profile.id,
            device_profile_group_id=0,
            attach_handle_id=handle,
            project_id=project,
            instance_uuid=instance,
        )
        s.add(arq)
        s.flush()
        return {"arq_uuid": arq.uuid, "instance_uuid": instance, "project_id": project}


def fleet(db: Database, now: dt.datetime) -> dict[str, Any]:
    """Five devices on two hosts, every usage state:

    - ``idle``: H100 on node1, idle since 3 h ago, bound to project A;
    - ``busy``: H100 on node1, busy in the last interval, bound to project B;
    - ``blind``: H100 on node1, a source that gives no figure (everything null, unknown);
    - ``quiet``: PAC N3000 on node2, idle since 30 min ago, bound to project B;
    - ``never``: PAC N3000 on node2, never reported.
    """
    idle = seed.device(db, hostname="node1", pci="0000:01:00.0")
    busy = seed.device(db, hostname="node1", pci="0000:02:00.0")
    blind = seed.device(db, hostname="node1", pci="0000:03:00.0")
    fpga = {"type": "FPGA", "vendor": "8086", "model": "PAC N3000", "rc": "FPGA", "traits": ()}
    quiet = seed.device(db, hostname="node2", pci="0000:04:00.0", **fpga)
    never = seed.device(db, hostname="node2", pci="0000:05:00.0", **fpga)
    three_h, half_h, last = now - dt.timedelta(hours=3), now - 30 * MINUTE, now - 2 * MINUTE
    # node1: the idle device's first interval 3 h ago, then intervals every minute of the
    # last 10 (series, the last ending now), the busy one busy in each.
    reports = [interval(three_h, summary("0000:01:00.0", util=1.0, busy=False, power=60.0))]
    for n in range(10, 0, -1):
        start = now - n * MINUTE
        reports.append(
            interval(
                start,
                summary("0000:01:00.0", util=float(n), busy=False, power=60.0 + n),
                summary("0000:02:00.0", util=90.0, busy=True, last_busy=start + MINUTE),
                summary(
                    "0000:03:00.0",
                    util=None,
                    busy=None,
                    power=None,
                    memory=None,
                    temperature=None,
                ),
            )
        )
    usage.receive(db, "node1", reports)
    usage.receive(
        db,
        "node2",
        [
            interval(half_h, summary("0000:04:00.0", util=0.0, busy=False, power=None)),
            interval(last, summary("0000:04:00.0", util=0.0, busy=False, power=None)),
        ],
    )
    return {
        "idle": {**idle, **bind(db, idle["device_id"], personas.PROJECT_A)},
        "busy": {**busy, **bind(db, busy["device_id"], personas.PROJECT_B)},
        "blind": blind,
        "quiet": {**quiet, **bind(db, quiet["device_id"], personas.PROJECT_B)},
        "never": never,
        "now": now,
        "three_h": three_h,
        "half_h": half_h,
        "last": last,
    }


def iso(at: dt.datetime) -> str:
    """As the API writes a time."""
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "+00:00"
