"""Reconciling a host's report with SQL: the pure ``diff``.

``diff(old, new)`` compares records (``inventory.records``) and returns the ``Changes``
(``inventory.changes``); it does no I/O and is tested without a database. ``db.inventory``
holds the SQL on either side of it: ``load`` reads a host's inventory as records, and ``apply``
writes the changes inside the caller's transaction, returning the events to notify once that
transaction has committed.

Rules the diff keeps: a device gone from the report is deleted, unless an ARQ holds one of its
attach handles, in which case it is kept and flagged ``missing`` (and nothing under it is
removed) until it is released; a device whose driver failed this round is left as it is, so a
driver that crashed or hung does not make its devices vanish.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from cyborg_lite.inventory.changes import Changes, DeployableUpdate, DeviceUpdate
from cyborg_lite.inventory.records import DeployableRec, DeviceRec, Known


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
