"""Readers for the Placement sync: what each deployable should look like as a provider.

Plain frozen rows out (``DeployableState``), read in a few set-based queries per host, so the
sync can run its HTTP calls after the transaction has ended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.db import models

Dep = models.Deployable
Dev = models.Device
FC = models.FirmwareComponent


@dataclasses.dataclass(frozen=True)
class DeployableState:
    """A deployable with what its provider is derived from."""

    name: str
    rp_uuid: str | None
    num_accelerators: int
    hostname: str
    device_uuid: str
    # The device is out of scheduling: in maintenance, drained for firmware, or gone from
    # its host's reports while an ARQ still holds it.
    unschedulable: bool
    attributes: tuple[tuple[str, str], ...]  # sorted by key
    firmware: tuple[tuple[str, str], ...]  # (component, version), sorted


def _states(session: orm.Session, where: Any) -> list[DeployableState]:
    rows = session.execute(
        sa.select(
            Dep.id,
            Dep.name,
            Dep.rp_uuid,
            Dep.num_accelerators,
            Dev.id.label("device_id"),
            Dev.uuid.label("device_uuid"),
            Dev.hostname,
            Dev.status,
            Dev.firmware_drain,
            Dev.missing,
        )
        .join(Dev, Dev.id == Dep.device_id)
        .where(where)
        .order_by(Dep.name)
    ).all()
    if not rows:
        return []
    dep_ids = [r.id for r in rows]
    dev_ids = sorted({r.device_id for r in rows})
    attributes: dict[int, list[tuple[str, str]]] = {}
    for dep_id, key, value in session.execute(
        sa.select(models.Attribute.deployable_id, models.Attribute.key, models.Attribute.value)
        .where(models.Attribute.deployable_id.in_(dep_ids))
        .order_by(models.Attribute.key)
    ):
        attributes.setdefault(dep_id, []).append((key, value))
    firmware: dict[int, list[tuple[str, str]]] = {}
    for dev_id, component, version in session.execute(
        sa.select(FC.device_id, FC.component, FC.version)
        .where(FC.device_id.in_(dev_ids))
        .order_by(FC.component)
    ):
        firmware.setdefault(dev_id, []).append((component, version))
    return [
        DeployableState(
            name=r.name,
            rp_uuid=r.rp_uuid,
            num_accelerators=int(r.num_accelerators),
            hostname=r.hostname,
            device_uuid=r.device_uuid,
            unschedulable=r.status == "maintaining" or r.firmware_drain is not None or r.missing,
            attributes=tuple(attributes.get(r.id, ())),
            firmware=tuple(firmware.get(r.device_id, ())),
        )
        for r in rows
    ]


def of_host(session: orm.Session, hostname: str) -> list[DeployableState]:
    """Every deployable of ``hostname``'s devices."""
    return _states(session, Dev.hostname == hostname)


def of_device(session: orm.Session, device_uuid: str) -> list[DeployableState]:
    """The deployables of one device (empty when the device is unknown)."""
    return _states(session, Dev.uuid == device_uuid)


def hostnames(session: orm.Session) -> Sequence[str]:
    """Every known host, for the periodic sync."""
    return list(session.scalars(sa.select(models.Host.hostname).order_by(models.Host.hostname)))
