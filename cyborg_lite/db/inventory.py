"""Reading a host's inventory from SQL as records (``inventory.records``), with its rows.

``load`` costs one query per table, however many devices the host has.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.db import models
from cyborg_lite.inventory.records import (
    DeployableRec,
    DeviceRec,
    FirmwareRec,
    Handle,
    Known,
    canonical_json,
)


@dataclasses.dataclass
class Snapshot:
    """A host's inventory as read from SQL: records for the diff, rows for the apply."""

    hostname: str
    known: dict[str, Known]
    devices: dict[str, models.Device]
    cpids: dict[int, models.ControlpathId]  # by device id
    deployables: dict[str, models.Deployable]  # by name
    attributes: dict[int, dict[str, models.Attribute]]  # by deployable id, then key
    handles: dict[int, dict[Handle, models.AttachHandle]]  # by deployable id
    firmware: dict[int, dict[str, models.FirmwareComponent]]  # by device id, then component


def load(session: orm.Session, hostname: str) -> Snapshot:
    """Read ``hostname``'s inventory (one query per table, whatever the number of devices)."""
    devices = {
        d.stable_id: d
        for d in session.scalars(sa.select(models.Device).where(models.Device.hostname == hostname))
    }
    ids = [d.id for d in devices.values()]
    cpids = {
        c.device_id: c
        for c in session.scalars(
            sa.select(models.ControlpathId).where(models.ControlpathId.device_id.in_(ids))
        )
    }
    deps = list(
        session.scalars(sa.select(models.Deployable).where(models.Deployable.device_id.in_(ids)))
    )
    dep_ids = [d.id for d in deps]
    attributes: dict[int, dict[str, models.Attribute]] = {d.id: {} for d in deps}
    for a in session.scalars(
        sa.select(models.Attribute).where(models.Attribute.deployable_id.in_(dep_ids))
    ):
        attributes[a.deployable_id][a.key] = a
    handles: dict[int, dict[Handle, models.AttachHandle]] = {d.id: {} for d in deps}
    for h in session.scalars(
        sa.select(models.AttachHandle).where(models.AttachHandle.deployable_id.in_(dep_ids))
    ):
        handles[h.deployable_id][Handle(h.attach_type, _canonical(h.attach_info))] = h
    firmware: dict[int, dict[str, models.FirmwareComponent]] = {i: {} for i in ids}
    for f in session.scalars(
        sa.select(models.FirmwareComponent).where(models.FirmwareComponent.device_id.in_(ids))
    ):
        firmware[f.device_id][f.component] = f
    held = set(
        session.scalars(
            sa.select(models.Deployable.device_id)
            .join(models.AttachHandle, models.AttachHandle.deployable_id == models.Deployable.id)
            .join(
                models.AcceleratorRequest,
                models.AcceleratorRequest.attach_handle_id == models.AttachHandle.id,
            )
            .where(models.Deployable.device_id.in_(ids))
        )
    )
    deps_by_device: dict[int, list[models.Deployable]] = {i: [] for i in ids}
    for d in deps:
        deps_by_device[d.device_id].append(d)
    known = {
        sid: Known(
            record=_record(d, cpids.get(d.id), deps_by_device[d.id], attributes, handles, firmware),
            held=d.id in held,
            missing=bool(d.missing),
        )
        for sid, d in devices.items()
    }
    return Snapshot(
        hostname, known, devices, cpids, {d.name: d for d in deps}, attributes, handles, firmware
    )


def _canonical(info: str) -> str:
    try:
        return canonical_json(json.loads(info))
    except ValueError:
        return info


def _record(
    device: models.Device,
    cpid: models.ControlpathId | None,
    deps: list[models.Deployable],
    attributes: dict[int, dict[str, models.Attribute]],
    handles: dict[int, dict[Handle, models.AttachHandle]],
    firmware: dict[int, dict[str, models.FirmwareComponent]],
) -> DeviceRec:
    return DeviceRec(
        stable_id=device.stable_id,
        type=device.type,
        vendor=device.vendor,
        model=device.model,
        std_board_info=device.std_board_info or "",
        vendor_board_info=device.vendor_board_info or "",
        driver_name=device.driver_name,
        cpid=(cpid.cpid_type, _canonical(cpid.cpid_info)) if cpid else None,
        deployables=tuple(
            sorted(
                (
                    DeployableRec(
                        name=d.name,
                        num_accelerators=d.num_accelerators,
                        driver_name=d.driver_name,
                        attributes=tuple(sorted((k, a.value) for k, a in attributes[d.id].items())),
                        handles=frozenset(handles[d.id]),
                    )
                    for d in deps
                ),
                key=lambda d: d.name,
            )
        ),
        firmware=tuple(
            FirmwareRec(f.component, f.version, f.updatable, f.activation, f.pending_version)
            for f in sorted(firmware[device.id].values(), key=lambda f: f.component)
        ),
    )


def held_by_arq(device_id: Any) -> sa.Exists:
    """EXISTS an ARQ holding one of the device's attach handles."""
    return (
        sa.select(models.AcceleratorRequest.id)
        .join(
            models.AttachHandle,
            models.AcceleratorRequest.attach_handle_id == models.AttachHandle.id,
        )
        .join(models.Deployable, models.AttachHandle.deployable_id == models.Deployable.id)
        .where(models.Deployable.device_id == device_id)
        .exists()
    )


def released_missing(session: orm.Session) -> list[models.Device]:
    """Devices flagged missing that no ARQ holds any more."""
    return list(
        session.scalars(
            sa.select(models.Device).where(
                models.Device.missing.is_(True), ~held_by_arq(models.Device.id)
            )
        )
    )


def delete_if_released(session: orm.Session, device_id: int) -> bool:
    """Delete a missing device unless an ARQ holds it again; True when this call deleted it."""
    result = session.execute(
        sa.delete(models.Device).where(
            models.Device.id == device_id,
            models.Device.missing.is_(True),
            ~held_by_arq(models.Device.id),
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
