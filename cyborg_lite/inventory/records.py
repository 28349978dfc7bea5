"""The inventory as plain, comparable records: what a report says and what SQL holds.

A report's device dicts (``drivers.base.to_dict``) are turned into these frozen records here, and
``db.inventory`` turns the SQL rows into the same records, so that ``conductor.reconcile.diff``
compares like with like and stays a pure function. Everything here is pure: no SQL, no RPC.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from typing import Any

# Device columns a report sets (besides its subtree of deployables, handles and firmware).
DEVICE_FIELDS = (
    "type",
    "vendor",
    "model",
    "std_board_info",
    "vendor_board_info",
    "driver_name",
)

# Attach types whose handle is a PCI function, described by its four address parts.
PCI_ATTACH_TYPES = frozenset({"PCI", "TEST_PCI"})


@dataclasses.dataclass(frozen=True)
class Handle:
    """An attach handle: its type and its ``attach_info`` as canonical JSON (sorted keys)."""

    attach_type: str
    info: str


@dataclasses.dataclass(frozen=True)
class DeployableRec:
    """A deployable with its globally unique name, attributes and attach handles."""

    name: str
    num_accelerators: int
    driver_name: str | None
    attributes: tuple[tuple[str, str], ...]  # sorted by key
    handles: frozenset[Handle]

    @property
    def rp_uuid(self) -> str:
        """The Placement provider uuid: uuid3 of the name, as Cyborg computes it."""
        return str(uuid.uuid3(uuid.NAMESPACE_DNS, self.name))


@dataclasses.dataclass(frozen=True)
class FirmwareRec:
    """One firmware component of a device."""

    component: str
    version: str
    updatable: bool
    activation: str
    pending_version: str | None


@dataclasses.dataclass(frozen=True)
class DeviceRec:
    """A device and everything under it, as one comparable value."""

    stable_id: str
    type: str
    vendor: str
    model: str
    std_board_info: str
    vendor_board_info: str
    driver_name: str | None
    cpid: tuple[str, str] | None  # (cpid_type, cpid_info) where the device has an address
    deployables: tuple[DeployableRec, ...]  # sorted by name
    firmware: tuple[FirmwareRec, ...]  # sorted by component

    def fields(self) -> dict[str, Any]:
        """The device columns (``DEVICE_FIELDS``) as a dict."""
        return {name: getattr(self, name) for name in DEVICE_FIELDS}


@dataclasses.dataclass(frozen=True)
class Known:
    """A device as SQL holds it, with what the diff must respect about it."""

    record: DeviceRec
    # An ARQ holds one of its attach handles: the device must not be deleted.
    held: bool = False
    # Gone from its host's reports but kept because it was held.
    missing: bool = False


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def pci_info(address: str) -> dict[str, str]:
    """``dddd:bb:dd.f`` as Cyborg's attach_info dict of strings; Invalid input raises."""
    domain, bus, rest = address.lower().split(":")
    device, function = rest.split(".")
    return {"domain": domain, "bus": bus, "device": device, "function": function}


def deployable_name(hostname: str, local_name: str) -> str:
    """A deployable name that is unique across hosts (it is hashed into the provider uuid)."""
    return f"{hostname}_{local_name}"


def _str_dict(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _handle(data: Mapping[str, Any]) -> Handle:
    attach_type = str(data.get("attach_type") or "PCI")
    info = _str_dict(data.get("extra"))
    address = data.get("pci_address")
    if attach_type in PCI_ATTACH_TYPES and address:
        info.update(pci_info(str(address)))
    elif address:
        info.setdefault("pci_address", str(address))
    return Handle(attach_type, canonical_json(info))


def _deployable(hostname: str, driver: str | None, data: Mapping[str, Any]) -> DeployableRec:
    attributes = _str_dict(data.get("attributes"))
    # rc and traitN are the contract's keys (Placement reads them); they win over extras.
    attributes = {k: v for k, v in attributes.items() if k != "rc" and not k.startswith("trait")}
    attributes["rc"] = str(data["resource_class"])
    for i, trait in enumerate(data.get("traits") or ()):
        attributes[f"trait{i}"] = str(trait)
    return DeployableRec(
        name=deployable_name(hostname, str(data["name"])),
        num_accelerators=int(data.get("num_accelerators", 1)),
        driver_name=driver,
        attributes=tuple(sorted(attributes.items())),
        handles=frozenset(_handle(h) for h in data.get("attach_handles") or ()),
    )


def _firmware(data: Mapping[str, Any]) -> FirmwareRec:
    pending = data.get("pending_version")
    return FirmwareRec(
        component=str(data["component"]),
        version=str(data["version"]),
        updatable=bool(data.get("updatable", False)),
        activation=str(data.get("activation") or "reset"),
        pending_version=None if pending is None else str(pending),
    )


def from_report(hostname: str, data: Mapping[str, Any]) -> DeviceRec:
    """One device dict of an agent report as a record.

    Reads only the keys it knows, so a newer agent's extra fields do not break an older
    conductor. A malformed device raises ``KeyError``, ``ValueError`` or ``TypeError``.
    """
    driver = data.get("driver")
    driver = None if driver is None else str(driver)
    address = data.get("pci_address")
    cpid = ("PCI", canonical_json(pci_info(str(address)))) if address else None
    return DeviceRec(
        stable_id=str(data["stable_id"]),
        type=str(data["type"]),
        vendor=str(data["vendor"]),
        model=str(data["model"]),
        std_board_info=canonical_json(_str_dict(data.get("std_board_info"))),
        vendor_board_info=canonical_json(_str_dict(data.get("vendor_board_info"))),
        driver_name=driver,
        cpid=cpid,
        deployables=tuple(
            sorted(
                (_deployable(hostname, driver, d) for d in data.get("deployables") or ()),
                key=lambda d: d.name,
            )
        ),
        firmware=tuple(
            sorted((_firmware(f) for f in data.get("firmware") or ()), key=lambda f: f.component)
        ),
    )
