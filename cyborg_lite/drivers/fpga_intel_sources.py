"""Intel FPGA card facts from DFL sysfs (or the legacy OPAE layout) and ``fpgainfo`` text.

DFL (upstream kernel) hangs an ``fpga_region/regionN`` below the card's PCI function with the
FME (``dfl-fme.N``: bitstream id, PR region with its compat id) and ports (``dfl-port.N``: the
loaded AFU id). ``fpgainfo fme`` prints ``Label : value`` lines whose labels and number formats
changed between OPAE releases; unknown lines (including its ``**ERROR**`` lines when the BMC is
unreadable) are skipped, empty values are missing.
"""

from __future__ import annotations

import dataclasses
import re
import uuid

from cyborg_lite.drivers import pci
from cyborg_lite.drivers.common import clean
from cyborg_lite.drivers.host import SysfsReader, ToolOutputError


@dataclasses.dataclass(frozen=True)
class FpgaInfo:
    """What one source knows about one Intel FPGA card; None where it does not say."""

    address: str
    source: str
    platform: str | None = None
    bitstream_id: str | None = None  # FIM id, always "0x" + lower-case hex
    bitstream_version: str | None = None
    pr_interface_id: str | None = None  # UUID with dashes, lower case
    afu_id: str | None = None  # UUID with dashes, lower case; None when no AFU is loaded
    bmc_version: str | None = None
    bmc_build: str | None = None
    boot_page: str | None = None


def merge(primary: FpgaInfo, fallback: FpgaInfo | None) -> FpgaInfo:
    """``primary`` with its unknown fields taken from ``fallback``."""
    if fallback is None:
        return primary
    fills = {
        f.name: getattr(fallback, f.name)
        for f in dataclasses.fields(FpgaInfo)
        if getattr(primary, f.name) is None and f.name not in ("address", "source")
    }
    return dataclasses.replace(primary, **fills)


def norm_uuid(value: str | None) -> str | None:
    """A UUID with or without dashes, in canonical lower-case form; None if it is not one."""
    text = clean(value)
    if text is None:
        return None
    try:
        return str(uuid.UUID(text.replace("-", "")))
    except ValueError:
        return None


def norm_bitstream_id(value: str | None) -> str | None:
    """Bitstream id as ``0x`` hex: fpgainfo prints hex or decimal depending on its version."""
    text = clean(value)
    if text is None:
        return None
    try:
        number = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None
    return f"0x{number:x}"


def _first(reader: SysfsReader, *patterns: str) -> str | None:
    for pattern in patterns:
        for path in reader.glob(pattern):
            value = clean(reader.read(path))
            if value is not None:
                return value
    return None


def read_sysfs(reader: SysfsReader, dev: pci.PciDevice) -> FpgaInfo:
    """The card's FIM, PR region and AFU ids from DFL sysfs, or from the legacy OPAE layout."""
    d = dev.sysfs_dir
    fme = f"{d}/fpga_region/region*/dfl-fme.*"
    legacy = f"{d}/fpga/intel-fpga-dev.*/intel-fpga-fme.*"
    afu = _first(
        reader,
        f"{d}/fpga_region/region*/dfl-port.*/afu_id",
        f"{d}/fpga/intel-fpga-dev.*/intel-fpga-port.*/afu_id",
    )
    bmc = None
    for path in reader.find(d, "bmcfw_version"):
        bmc = clean(reader.read(path))
        if bmc:
            break
    afu_id = norm_uuid(afu)
    return FpgaInfo(
        address=dev.address,
        source="sysfs",
        bitstream_id=norm_bitstream_id(
            _first(reader, f"{fme}/bitstream_id", f"{legacy}/bitstream_id")
        ),
        pr_interface_id=norm_uuid(
            _first(
                reader,
                f"{fme}/dfl-fme-region.*/fpga_region/region*/compat_id",
                f"{legacy}/pr/interface_id",
            )
        ),
        # An all-zero AFU id is the empty port of a freshly configured FIM.
        afu_id=afu_id if afu_id and int(uuid.UUID(afu_id)) else None,
        bmc_version=bmc,
    )


_LINE_RE = re.compile(r"^(?P<key>[^:].*?)\s*:(?:\s+(?P<value>.*))?$")
_HEADER_RE = re.compile(r"^//\*+\s*(?P<name>.*?)\s*\*+//$")


def _key(label: str) -> str | None:
    """Which field a fpgainfo label fills, across the old and new spellings."""
    k = " ".join(label.lower().split())
    if k.startswith("pcie s:b:d.f"):
        return "address"
    if "nios fw version" in k:
        return "bmc_version"
    if k.startswith("board management controller") and "build version" in k:
        return "bmc_build"
    return {
        "bitstream id": "bitstream_id",
        "bitstream version": "bitstream_version",
        "pr interface id": "pr_interface_id",
        "boot page": "boot_page",
        "accelerator id": "afu_id",
    }.get(k)


def parse_fpgainfo(text: str) -> dict[str, FpgaInfo]:
    """Cards from ``fpgainfo fme`` (or ``bmc``, ``port``) output, by PCI address.

    Per card, the platform name and BMC lines come first, then the section header, then the
    ``Label : value`` lines; a card is complete when the next one's first line appears.
    """
    cards: list[dict[str, str]] = []
    current: dict[str, str] = {}

    def flush() -> None:
        nonlocal current
        if current:
            cards.append(current)
        current = {}

    for raw in text.splitlines():
        line = raw.strip()
        if not line or "**ERROR**" in line:
            continue
        if _HEADER_RE.match(line):
            if "address" in current:
                flush()
            continue
        m = _LINE_RE.match(line)
        if m is None:
            # A bare line names the platform of the next card ("Intel ... Platform N6001").
            if "address" in current:
                flush()
            current.setdefault("platform", line)
            continue
        field = _key(m["key"])
        value = clean(m["value"])
        if field is None or value is None:
            continue
        if "address" in current and (field in ("bmc_version", "address")):
            flush()
        current.setdefault(field, value)
    flush()
    found: dict[str, FpgaInfo] = {}
    for card in cards:
        address = pci.try_normalize(card.get("address"))
        if address is None:
            continue
        found[address] = FpgaInfo(
            address=address,
            source="fpgainfo",
            platform=card.get("platform"),
            bitstream_id=norm_bitstream_id(card.get("bitstream_id")),
            bitstream_version=card.get("bitstream_version"),
            pr_interface_id=norm_uuid(card.get("pr_interface_id")),
            afu_id=norm_uuid(card.get("afu_id")),
            bmc_version=card.get("bmc_version"),
            bmc_build=card.get("bmc_build"),
            boot_page=card.get("boot_page"),
        )
    if not found and text.strip():
        raise ToolOutputError("fpgainfo", "no card with a PCIe s:b:d.f line in its output")
    return found
