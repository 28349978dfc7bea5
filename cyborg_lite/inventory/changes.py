"""What a report changes on its host: the result of ``conductor.reconcile.diff``.

The conductor computes these values and ``db.inventory.apply`` writes them, so they sit here,
below both, next to the records they are made of. Plain frozen values: no SQL, no RPC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from cyborg_lite.inventory.records import DeployableRec, DeviceRec, FirmwareRec, Handle

# A notification to publish once the transaction that caused it has committed: its event
# type without the ``accelerator.`` prefix (``device.added``, ``host.down``) and its payload.
Event = tuple[str, dict[str, Any]]


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
