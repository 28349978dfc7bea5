"""Seed inventory straight into SQL for API tests (the agent path is tested on its own)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from cyborg_lite.db import models
from cyborg_lite.db.engine import Database


def device(
    db: Database,
    *,
    hostname: str = "compute1",
    type: str = "GPU",
    vendor: str = "10de",
    model: str = "NVIDIA H100 80GB HBM3",
    pci: str = "0000:3b:00.0",
    rc: str = "PGPU",
    traits: tuple[str, ...] = ("OWNER_CYBORG", "CUSTOM_NVIDIA_2330"),
    handles: int = 1,
    num_accelerators: int = 1,
    handle_extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One device with a deployable, its attributes and attach handles; returns their ids.

    ``handle_extra`` adds keys to each handle's attach_info, as a driver's ``AttachHandle.extra``
    does (e.g. ``physical_network`` of a NIC port)."""
    with db.transaction() as s:
        host = s.query(models.Host).filter_by(hostname=hostname).one_or_none()
        if host is None:
            s.add(models.Host(hostname=hostname, state="up"))
        dev = models.Device(
            type=type,
            vendor=vendor,
            model=model,
            hostname=hostname,
            stable_id=pci,
            std_board_info=json.dumps({"product_id": "2330", "controller": "3D controller"}),
            vendor_board_info="",
            driver_name="nvidia",
        )
        s.add(dev)
        s.flush()
        cpid = models.ControlpathId(
            device_id=dev.id, cpid_type="PCI", cpid_info=json.dumps(_pci_info(pci))
        )
        s.add(cpid)
        name = f"{hostname}_{pci}"
        dep = models.Deployable(
            name=name,
            num_accelerators=num_accelerators,
            device_id=dev.id,
            rp_uuid=str(uuid.uuid3(uuid.NAMESPACE_DNS, name)),
            driver_name="nvidia",
        )
        s.add(dep)
        s.flush()
        s.add(models.Attribute(deployable_id=dep.id, key="rc", value=rc))
        for i, trait in enumerate(traits):
            s.add(models.Attribute(deployable_id=dep.id, key=f"trait{i}", value=trait))
        s.flush()
        for _ in range(handles):
            s.add(
                models.AttachHandle(
                    deployable_id=dep.id,
                    cpid_id=cpid.id,
                    attach_type="PCI",
                    attach_info=json.dumps({**(handle_extra or {}), **_pci_info(pci)}),
                    in_use=False,
                )
            )
        return {
            "device_uuid": dev.uuid,
            "device_id": dev.id,
            "deployable_uuid": dep.uuid,
            "deployable_id": dep.id,
            "rp_uuid": dep.rp_uuid,
        }


def _pci_info(address: str) -> dict[str, str]:
    domain, bus, rest = address.split(":")
    dev, fn = rest.split(".")
    return {"domain": domain, "bus": bus, "device": dev, "function": fn}
