"""Reconciling a host's report with SQL: a pure ``diff`` and one ``apply``.

``diff(old, new)`` compares records (``inventory.records``) and returns the ``Changes``; it does
no I/O and is tested without a database. ``db.inventory.load`` reads a host's inventory as
records, and ``apply`` writes the changes inside the caller's transaction, returning the
events to notify once that transaction has committed.

Rules the diff keeps: a device gone from the report is deleted, unless an ARQ holds one of its
attach handles, in which case it is kept and flagged ``missing`` (and nothing under it is
removed) until it is released; a device whose driver failed this round is left as it is, so a
driver that crashed or hung does not make its devices vanish.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import inventory as db_inventory
from cyborg_lite.db import models
from cyborg_lite.db.inventory import Snapshot
from cyborg_lite.inventory.records import DeployableRec, DeviceRec, FirmwareRec, Handle, Known


@dataclasses.dataclass(frozen=True)
class DeployableUpdate:
    """What changes on one deployable that stays."""

    name: str
    fields: Mapping[str, Any]  # num_accelerators, driver_name
    attributes_set: Mapping[str, str]
    attributes_removed: tuple[str, ...]
    handles_added: frozenset[Handle]
    handles_removed: frozenset[Handle]


@dataclasses.dataclass(frozen=True)
class DeviceUpdate:
    """What changes on one device that stays (``fields`` may hold ``missing``: False)."""

    stable_id: str
    fields: Mapping[str, Any]
    cpid_changed: bool
    cpid: tuple[str, str] | None
    deployables_added: tuple[DeployableRec, ...]
    deployables_removed: tuple[str, ...]
    deployables_changed: tuple[DeployableUpdate, ...]
    firmware_set: tuple[FirmwareRec, ...]
    firmware_removed: tuple[str, ...]

    def aspects(self) -> list[str]:
        """What changed, in words, for notifications and logs."""
        out = sorted(k for k in self.fields if k != "missing")
        if "missing" in self.fields:
            out.append("returned")
        if self.cpid_changed:
            out.append("controlpath")
        if self.deployables_added or self.deployables_removed or self.deployables_changed:
            out.append("deployables")
        if self.firmware_set or self.firmware_removed:
            out.append("firmware")
        return out


@dataclasses.dataclass(frozen=True)
class Changes:
    """Everything a report changes on its host."""

    added: tuple[DeviceRec, ...] = ()
    removed: tuple[str, ...] = ()
    # Gone from the report but held by an ARQ: kept, flagged missing.
    flagged_missing: tuple[str, ...] = ()
    updated: tuple[DeviceUpdate, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the report matches SQL."""
        return not (self.added or self.removed or self.flagged_missing or self.updated)


def diff(
    old: Mapping[str, Known],
    new: Mapping[str, DeviceRec],
    *,
    failed_drivers: Collection[str] = (),
) -> Changes:
    """The changes that make SQL's ``old`` inventory of a host match its report ``new``.

    Both are keyed by stable id. Devices of ``failed_drivers`` that the report lacks are left
    alone: their driver could not look this time.
    """
    added = tuple(new[sid] for sid in sorted(new.keys() - old.keys()))
    removed: list[str] = []
    flagged: list[str] = []
    for sid in sorted(old.keys() - new.keys()):
        known = old[sid]
        if known.record.driver_name in failed_drivers:
            continue
        if known.held:
            if not known.missing:
                flagged.append(sid)
        else:
            removed.append(sid)
    updated = []
    for sid in sorted(old.keys() & new.keys()):
        update = _diff_device(old[sid], new[sid])
        if update is not None:
            updated.append(update)
    return Changes(added, tuple(removed), tuple(flagged), tuple(updated))


def _diff_device(known: Known, new: DeviceRec) -> DeviceUpdate | None:
    old = known.record
    fields: dict[str, Any] = {k: v for k, v in new.fields().items() if old.fields()[k] != v}
    if known.missing:
        fields["missing"] = False
    old_deps = {d.name: d for d in old.deployables}
    new_deps = {d.name: d for d in new.deployables}
    dep_added = tuple(new_deps[n] for n in sorted(new_deps.keys() - old_deps.keys()))
    # A held device keeps its deployables and handles until the ARQ lets go.
    dep_removed = () if known.held else tuple(sorted(old_deps.keys() - new_deps.keys()))
    dep_changed = tuple(
        u
        for n in sorted(old_deps.keys() & new_deps.keys())
        if (u := _diff_deployable(old_deps[n], new_deps[n], keep_handles=known.held))
    )
    old_fw = {f.component: f for f in old.firmware}
    fw_set = tuple(f for f in new.firmware if old_fw.get(f.component) != f)
    fw_removed = tuple(sorted(old_fw.keys() - {f.component for f in new.firmware}))
    update = DeviceUpdate(
        stable_id=new.stable_id,
        fields=fields,
        cpid_changed=old.cpid != new.cpid,
        cpid=new.cpid,
        deployables_added=dep_added,
        deployables_removed=dep_removed,
        deployables_changed=dep_changed,
        firmware_set=fw_set,
        firmware_removed=fw_removed,
    )
    return update if update.aspects() else None


def _diff_deployable(
    old: DeployableRec, new: DeployableRec, *, keep_handles: bool
) -> DeployableUpdate | None:
    fields = {
        k: getattr(new, k)
        for k in ("num_accelerators", "driver_name")
        if getattr(old, k) != getattr(new, k)
    }
    old_attrs, new_attrs = dict(old.attributes), dict(new.attributes)
    attrs_set = {k: v for k, v in new_attrs.items() if old_attrs.get(k) != v}
    attrs_removed = tuple(sorted(old_attrs.keys() - new_attrs.keys()))
    handles_added = new.handles - old.handles
    handles_removed = frozenset() if keep_handles else old.handles - new.handles
    if not (fields or attrs_set or attrs_removed or handles_added or handles_removed):
        return None
    return DeployableUpdate(
        new.name, fields, attrs_set, attrs_removed, handles_added, handles_removed
    )


Event = tuple[str, dict[str, Any]]


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
                models.Device.id.in_(ids), ~db_inventory.held_by_arq(models.Device.id)
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
