"""A host's inventory in SQL: ``load`` reads it as records, ``apply`` writes a diff's changes.

The reconciliation of a report is ``load``, then the pure ``conductor.reconcile.diff``, then
``apply``, all in one transaction of the caller's. ``load`` costs one query per table, however
many devices the host has; its ``Snapshot`` keeps the rows it read, so that ``apply`` updates
them instead of reading them again. Records and changes are ``inventory.records`` and
``inventory.changes``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models
from cyborg_lite.inventory.changes import Changes, DeviceUpdate, Event
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


def device_payload(device: models.Device) -> dict[str, Any]:
    """A device as notifications describe it."""
    return {
        "uuid": device.uuid,
        "hostname": device.hostname,
        "stable_id": device.stable_id,
        "type": device.type,
        "vendor": device.vendor,
        "model": device.model,
        "driver_name": device.driver_name,
    }


def apply(session: orm.Session, snapshot: Snapshot, changes: Changes) -> list[Event]:
    """Write ``changes`` in the caller's transaction; return the events to notify after commit.

    Device rows are updated only where their ``generation`` still matches what ``load`` read
    (``ConcurrentUpdate`` otherwise, which rolls the whole report back for a retry).
    """
    events: list[Event] = []
    for rec in changes.added:
        device = models.Device(hostname=snapshot.hostname, stable_id=rec.stable_id, **rec.fields())
        session.add(device)
        session.flush()
        cpid = _add_cpid(session, device.id, rec.cpid)
        for dep in rec.deployables:
            _add_deployable(session, device.id, cpid, dep)
        for fw in rec.firmware:
            session.add(_firmware_row(device.id, fw))
        events.append(("device.added", device_payload(device)))
    for sid in changes.removed:
        events.append(("device.removed", device_payload(snapshot.devices[sid])))
    if changes.removed:
        ids = [snapshot.devices[sid].id for sid in changes.removed]
        # Deployables, attributes, handles, control path ids and firmware go by ON DELETE
        # CASCADE. The NOT EXISTS re-checks, at delete time, that no ARQ took a handle since
        # the snapshot; if one did, the retry flags that device missing instead.
        result = session.execute(
            sa.delete(models.Device).where(
                models.Device.id.in_(ids), ~held_by_arq(models.Device.id)
            )
        )
        if result.rowcount != len(ids):  # type: ignore[attr-defined]
            raise exception.ConcurrentUpdate(
                f"A device of {snapshot.hostname} was claimed during reconciliation."
            )
    for sid in changes.flagged_missing:
        device = snapshot.devices[sid]
        _update_device(session, device, {"missing": True})
        events.append(("device.changed", {**device_payload(device), "changed": ["missing"]}))
    for update in changes.updated:
        device = snapshot.devices[update.stable_id]
        _apply_update(session, snapshot, device, update)
        events.append(("device.changed", {**device_payload(device), "changed": update.aspects()}))
    session.flush()
    return events


def _update_device(session: orm.Session, device: models.Device, values: Mapping[str, Any]) -> None:
    result = session.execute(
        sa.update(models.Device)
        .where(models.Device.id == device.id, models.Device.generation == device.generation)
        .values(**values, generation=device.generation + 1, updated_at=models.utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise exception.ConcurrentUpdate(
            f"Device {device.uuid} on {device.hostname} changed during reconciliation."
        )
    # Keep the loaded object in step without marking it dirty (no second UPDATE at flush).
    for key, value in {**values, "generation": device.generation + 1}.items():
        orm.attributes.set_committed_value(device, key, value)


def _apply_update(
    session: orm.Session, snapshot: Snapshot, device: models.Device, update: DeviceUpdate
) -> None:
    # Every change under the device bumps its generation too, so that readers of the device
    # (binding, rollout) notice that its subtree moved.
    _update_device(session, device, update.fields)
    cpid = snapshot.cpids.get(device.id)
    if update.cpid_changed:
        if update.cpid is None and cpid is not None:
            session.delete(cpid)
            cpid = None
        elif update.cpid is not None and cpid is None:
            cpid = _add_cpid(session, device.id, update.cpid)
        elif update.cpid is not None and cpid is not None:
            cpid.cpid_type, cpid.cpid_info = update.cpid
    for name in update.deployables_removed:
        session.delete(snapshot.deployables[name])
    for dep in update.deployables_added:
        _add_deployable(session, device.id, cpid, dep)
    for change in update.deployables_changed:
        row = snapshot.deployables[change.name]
        for key, value in change.fields.items():
            setattr(row, key, value)
        attrs = snapshot.attributes[row.id]
        for key in change.attributes_removed:
            session.delete(attrs[key])
        for key, value in change.attributes_set.items():
            if key in attrs:
                attrs[key].value = value
            else:
                session.add(models.Attribute(deployable_id=row.id, key=key, value=value))
        for handle in change.handles_removed:
            session.delete(snapshot.handles[row.id][handle])
        for handle in change.handles_added:
            session.add(_handle_row(row.id, cpid, handle))
    fw_rows = snapshot.firmware[device.id]
    for component in update.firmware_removed:
        session.delete(fw_rows[component])
    for fw in update.firmware_set:
        row_fw = fw_rows.get(fw.component)
        if row_fw is None:
            session.add(_firmware_row(device.id, fw))
        else:
            row_fw.version, row_fw.updatable = fw.version, fw.updatable
            row_fw.activation, row_fw.pending_version = fw.activation, fw.pending_version


def _add_cpid(
    session: orm.Session, device_id: int, cpid: tuple[str, str] | None
) -> models.ControlpathId | None:
    if cpid is None:
        return None
    row = models.ControlpathId(device_id=device_id, cpid_type=cpid[0], cpid_info=cpid[1])
    session.add(row)
    session.flush()
    return row


def _add_deployable(
    session: orm.Session, device_id: int, cpid: models.ControlpathId | None, dep: DeployableRec
) -> None:
    row = models.Deployable(
        name=dep.name,
        num_accelerators=dep.num_accelerators,
        device_id=device_id,
        rp_uuid=dep.rp_uuid,
        driver_name=dep.driver_name,
    )
    session.add(row)
    session.flush()
    for key, value in dep.attributes:
        session.add(models.Attribute(deployable_id=row.id, key=key, value=value))
    for handle in dep.handles:
        session.add(_handle_row(row.id, cpid, handle))


def _handle_row(
    deployable_id: int, cpid: models.ControlpathId | None, handle: Handle
) -> models.AttachHandle:
    return models.AttachHandle(
        deployable_id=deployable_id,
        cpid_id=cpid.id if cpid else None,
        attach_type=handle.attach_type,
        attach_info=handle.info,
        in_use=False,
    )


def _firmware_row(device_id: int, fw: FirmwareRec) -> models.FirmwareComponent:
    return models.FirmwareComponent(
        device_id=device_id,
        component=fw.component,
        version=fw.version,
        updatable=fw.updatable,
        activation=fw.activation,
        pending_version=fw.pending_version,
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
