"""The one PCI sysfs reader: ``<root>/sys/bus/pci/devices/*`` into plain records.

Addresses are normalised here (every source spells them differently: NVML's 8-digit upper-case
domain, fpgainfo's upper case, domain-less OpenCL topology), so the canonical lower-case
``dddd:bb:dd.f`` is the one join key between sources. SR-IOV virtual functions are kept with
their physical function: a VF is a deployable of its PF, never a device of its own.
"""

from __future__ import annotations

import dataclasses
import re

from cyborg_lite.drivers.host import SysfsReader

DEVICES_DIR = "sys/bus/pci/devices"

# The canonical form every driver reports; anything put into a vendor tool's argv is checked
# against it first, so an address can carry no option or shell syntax.
# The domain has exactly 4 digits, or more without leading zeros (VMD domains: 10000).
CANONICAL_RE = re.compile(
    r"^(?:[0-9a-f]{4}|[1-9a-f][0-9a-f]{4,7}):[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$"
)

# Accepted spellings: optional domain (up to 8 hex digits: NVML pads to 8, VMD domains need 5),
# "." or ":" before the function (Cyborg's Xilinx driver wrote "0000:d8:00:0").
_ADDRESS_RE = re.compile(
    r"^\s*(?:(?P<domain>[0-9a-fA-F]{1,8}):)?(?P<bus>[0-9a-fA-F]{1,2}):"
    r"(?P<device>[0-9a-fA-F]{1,2})[.:](?P<function>[0-7])\s*$"
)

# Class codes (class >> 8) with their names, as Cyborg's std_board_info "controller" reads them.
CLASS_NAMES = {
    0x0300: "VGA compatible controller",
    0x0302: "3D controller",
    0x0380: "Display controller",
    0x0403: "Audio device",
    0x0B40: "Co-processor",
    0x1200: "Processing accelerators",
}


@dataclasses.dataclass(frozen=True)
class PciAddress:
    """A PCI address as integers; ``domain`` is None for sources that never give one."""

    domain: int | None
    bus: int
    device: int
    function: int

    def __str__(self) -> str:
        # The domain keeps at least 4 digits and is never truncated (VMD domains have 5).
        return f"{self.domain or 0:04x}:{self.bus:02x}:{self.device:02x}.{self.function:x}"

    @property
    def short(self) -> str:
        """``bb:dd.f``, the key for domain-less sources."""
        return f"{self.bus:02x}:{self.device:02x}.{self.function:x}"


def parse_address(text: str) -> PciAddress:
    """Parse any accepted spelling of a PCI address; ValueError for anything else."""
    m = _ADDRESS_RE.match(text)
    if m is None:
        raise ValueError(f"not a PCI address: {text!r}")
    device = int(m["device"], 16)
    if device > 0x1F:
        raise ValueError(f"not a PCI address (device number {device:#x} > 0x1f): {text!r}")
    domain = m["domain"]
    return PciAddress(
        domain=int(domain, 16) if domain is not None else None,
        bus=int(m["bus"], 16),
        device=device,
        function=int(m["function"]),
    )


def normalize_address(text: str) -> str:
    """The canonical ``dddd:bb:dd.f`` of ``text`` (domain 0 when it has none)."""
    return str(parse_address(text))


def try_normalize(text: str | None) -> str | None:
    """Like ``normalize_address`` but None for None or anything unparseable."""
    if not text:
        return None
    try:
        return normalize_address(text)
    except ValueError:
        return None


def is_canonical(text: str) -> bool:
    """Whether ``text`` is already in canonical form (the check before any argv use)."""
    return CANONICAL_RE.fullmatch(text) is not None


@dataclasses.dataclass(frozen=True)
class PciDevice:
    """One PCI function as sysfs shows it. Ids are lower-case hex without ``0x``."""

    address: str
    vendor_id: str
    device_id: str
    subsystem_vendor_id: str | None
    subsystem_device_id: str | None
    class_code: int  # class >> 8, e.g. 0x0302
    revision: str | None = None
    driver: str | None = None  # bound kernel driver, None when unbound
    numa_node: int | None = None
    iommu_group: int | None = None
    physfn: str | None = None  # the PF's address, for a VF
    virtfns: tuple[str, ...] = ()  # the VFs' addresses, for a PF
    sriov_totalvfs: int | None = None
    sriov_numvfs: int | None = None

    @property
    def is_vf(self) -> bool:
        """Whether this function is an SR-IOV virtual function."""
        return self.physfn is not None

    @property
    def class_name(self) -> str:
        """A readable class name, or the hex code."""
        return CLASS_NAMES.get(self.class_code, f"0x{self.class_code:04x}")

    @property
    def sysfs_dir(self) -> str:
        """This function's directory, relative to the sysfs root."""
        return f"{DEVICES_DIR}/{self.address}"


def _hex_id(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return f"{int(value, 16):04x}"
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        return None


class PciBus:
    """Reads PCI functions under ``reader``'s root."""

    def __init__(self, reader: SysfsReader) -> None:
        self.reader = reader

    def addresses(self) -> list[str]:
        """Canonical addresses of every function listed in sysfs, sorted."""
        found = {try_normalize(name) for name in self.reader.listdir(DEVICES_DIR)}
        return sorted(a for a in found if a is not None)

    def get(self, address: str) -> PciDevice | None:
        """One function by (any spelling of) its address; None when absent or unreadable."""
        canonical = try_normalize(address)
        if canonical is None:
            return None
        d = f"{DEVICES_DIR}/{canonical}"
        vendor = _hex_id(self.reader.read(f"{d}/vendor"))
        device = _hex_id(self.reader.read(f"{d}/device"))
        klass = _int(self.reader.read(f"{d}/class"))
        if vendor is None or device is None or klass is None:
            return None
        numa = _int(self.reader.read(f"{d}/numa_node"))
        group = self.reader.link_name(f"{d}/iommu_group")
        virtfns = []
        for entry in self.reader.listdir(d):
            if entry.startswith("virtfn") and entry[6:].isdigit():
                vf = try_normalize(self.reader.link_name(f"{d}/{entry}"))
                if vf is not None:
                    virtfns.append((int(entry[6:]), vf))
        # The driver link dangles when the module was removed; treat that as unbound.
        driver = self.reader.link_name(f"{d}/driver") if self.reader.exists(f"{d}/driver") else None
        return PciDevice(
            address=canonical,
            vendor_id=vendor,
            device_id=device,
            subsystem_vendor_id=_hex_id(self.reader.read(f"{d}/subsystem_vendor")),
            subsystem_device_id=_hex_id(self.reader.read(f"{d}/subsystem_device")),
            class_code=klass >> 8,
            revision=_hex_id(self.reader.read(f"{d}/revision")),
            driver=driver,
            # -1 is "unknown" (common in VMs), not a node.
            numa_node=numa if numa is not None and numa >= 0 else None,
            iommu_group=_int(group) if group is not None else None,
            physfn=try_normalize(self.reader.link_name(f"{d}/physfn")),
            virtfns=tuple(vf for _, vf in sorted(virtfns)),
            sriov_totalvfs=_int(self.reader.read(f"{d}/sriov_totalvfs")),
            sriov_numvfs=_int(self.reader.read(f"{d}/sriov_numvfs")),
        )

    def devices(self) -> list[PciDevice]:
        """Every readable function, sorted by address."""
        return [dev for a in self.addresses() if (dev := self.get(a)) is not None]


def board_info(dev: PciDevice) -> dict[str, str]:
    """Cyborg's ``std_board_info`` for a PCI function."""
    info = {
        "vendor_id": dev.vendor_id,
        "product_id": dev.device_id,
        "controller": dev.class_name,
        "class_code": f"{dev.class_code:04x}",
    }
    if dev.subsystem_vendor_id:
        info["subsystem_vendor_id"] = dev.subsystem_vendor_id
    if dev.subsystem_device_id:
        info["subsystem_device_id"] = dev.subsystem_device_id
    if dev.driver:
        info["kernel_driver"] = dev.driver
    if dev.iommu_group is not None:
        info["iommu_group"] = str(dev.iommu_group)
    if dev.sriov_totalvfs is not None:
        info["sriov_totalvfs"] = str(dev.sriov_totalvfs)
        info["sriov_numvfs"] = str(dev.sriov_numvfs or 0)
    return info
