"""A declarative fake host tree: real files and relative symlinks under a temp dir.

``FakeHost(root).pci(...)`` lays out a PCI function the way the kernel does: the device
directory under ``sys/devices/pci<dom>:<bus>/<bridge>/<bdf>``, a relative link to it from
``sys/bus/pci/devices``, ``driver`` and ``iommu_group`` links, SR-IOV ``physfn``/``virtfnN``
links, and any extra attribute files (nested paths allowed). Values get the trailing newline
sysfs has. Nothing is mocked: drivers read this tree through the real ``SysfsReader``.
"""

from __future__ import annotations

import os
from pathlib import Path


class FakeHost:
    """Builds a fake ``/sys`` and ``/proc`` under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "sys/bus/pci/devices").mkdir(parents=True, exist_ok=True)
        self.dirs: dict[str, Path] = {}

    def _link(self, link: Path, target: Path) -> None:
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(target, link.parent))

    def write(self, rel: str | Path, value: str | bytes) -> Path:
        """Write one file (relative to the root, or absolute inside it) with sysfs's newline."""
        path = Path(rel) if Path(rel).is_absolute() else self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(value if value.endswith("\n") or value == "" else value + "\n")
        return path

    def pci(
        self,
        address: str,
        vendor: str,
        device: str,
        klass: str,
        *,
        subsystem_vendor: str | None = None,
        subsystem_device: str | None = None,
        driver: str | None = None,
        numa_node: int = -1,
        iommu_group: int | None = None,
        physfn: str | None = None,
        files: dict[str, str | bytes] | None = None,
        dangling_driver: bool = False,
    ) -> Path:
        """Add one PCI function; returns its device directory."""
        domain, bus = address.split(":")[:2]
        if physfn is not None:
            parent = self.dirs[physfn].parent
        else:
            parent = self.root / f"sys/devices/pci{domain}:{bus}/{domain}:{bus}:00.0"
        d = parent / address
        d.mkdir(parents=True, exist_ok=True)
        self.dirs[address] = d
        attrs = {
            "vendor": f"0x{vendor}",
            "device": f"0x{device}",
            "class": klass,
            "revision": "0xa1",
            "numa_node": str(numa_node),
            "subsystem_vendor": f"0x{subsystem_vendor or vendor}",
            "subsystem_device": f"0x{subsystem_device or '0000'}",
        }
        for name, value in attrs.items():
            self.write(d / name, value)
        for name, value in (files or {}).items():
            self.write(d / name, value)
        self._link(self.root / "sys/bus/pci/devices" / address, d)
        if driver is not None:
            drv = self.root / "sys/bus/pci/drivers" / driver
            if not dangling_driver:
                drv.mkdir(parents=True, exist_ok=True)
            self._link(d / "driver", drv)
        if iommu_group is not None:
            group = self.root / "sys/kernel/iommu_groups" / str(iommu_group)
            group.mkdir(parents=True, exist_ok=True)
            self._link(d / "iommu_group", group)
        if physfn is not None:
            pf = self.dirs[physfn]
            self._link(d / "physfn", pf)
            index = len([p for p in pf.iterdir() if p.name.startswith("virtfn")])
            self._link(pf / f"virtfn{index}", d)
            self.write(pf / "sriov_numvfs", str(index + 1))
        return d

    def dev(self, address: str, rel: str = "") -> Path:
        """A path inside a function's device directory."""
        return self.dirs[address] / rel if rel else self.dirs[address]

    def link(self, rel: str, target: Path) -> None:
        """A relative symlink ``rel`` (under the root) to ``target`` (e.g. class links)."""
        self._link(self.root / rel, target)
