"""The NVIDIA enrichment ladder's sources: NVML, ``nvidia-smi -q -x`` and ``/proc/driver/nvidia``.

Each source yields ``GpuInfo`` records keyed by canonical PCI address; the driver merges them
with PCI sysfs. NVML goes through an injected module-like object (``pynvml`` in production, a
fake in tests) and is only ever read: nothing here changes MIG or any other GPU setting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import xml.etree.ElementTree as ET
from typing import Any

import pynvml

from cyborg_lite.drivers import pci
from cyborg_lite.drivers.common import clean, parse_size
from cyborg_lite.drivers.host import SysfsReader, ToolOutputError


@dataclasses.dataclass(frozen=True)
class MigInstance:
    """One MIG device (GPU instance + compute instance) of a GPU."""

    gpu_instance_id: int | None
    compute_instance_id: int | None
    uuid: str | None = None
    profile: str | None = None  # e.g. "1g.10gb"; nvidia-smi's XML does not say it
    memory_bytes: int | None = None


@dataclasses.dataclass(frozen=True)
class GpuInfo:
    """What one source knows about one GPU; None where it does not say."""

    address: str
    source: str
    name: str | None = None
    uuid: str | None = None
    serial: str | None = None
    part_number: str | None = None
    memory_bytes: int | None = None
    vbios: str | None = None
    inforom: str | None = None
    gsp: str | None = None
    driver_version: str | None = None
    device_id: str | None = None  # PCI device id, 4 lower-case hex digits
    mig_enabled: bool | None = None
    mig_pending: bool | None = None
    mig: tuple[MigInstance, ...] = ()
    virtualization_mode: str | None = None
    excluded: bool = False


def _text(value: Any) -> str | None:
    """NVML strings are bytes in old bindings, str in new ones."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return clean(value)


def _ids_from_pci_device_id(value: int | str | None) -> str | None:
    # NVML and nvidia-smi give device << 16 | vendor, e.g. 0x233010DE.
    if value is None:
        return None
    try:
        number = value if isinstance(value, int) else int(str(value), 16)
    except ValueError:
        return None
    return f"{(number >> 16) & 0xFFFF:04x}"


_MIG_PROFILE_RE = re.compile(r"\bMIG\s+(\S+)\s*$")


class _Nvml:
    """Calls into an NVML module, turning "not supported here" into None."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml

    def opt(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self.nvml, name)(*args)
        except pynvml.NVMLError:
            # NotSupported, NoPermission, InfoROM corrupted...: the field is unknown, the GPU
            # is still reported.
            return None

    def mig(self, handle: Any) -> tuple[bool | None, bool | None, tuple[MigInstance, ...]]:
        modes = self.opt("nvmlDeviceGetMigMode", handle)
        if not modes:
            return None, None, ()
        current, pending = bool(modes[0]), bool(modes[1])
        instances = []
        if current:
            for index in range(self.opt("nvmlDeviceGetMaxMigDeviceCount", handle) or 0):
                mig = self.opt("nvmlDeviceGetMigDeviceHandleByIndex", handle, index)
                if mig is None:  # NotFound: an empty slot
                    continue
                name = _text(self.opt("nvmlDeviceGetName", mig)) or ""
                m = _MIG_PROFILE_RE.search(name)
                memory = self.opt("nvmlDeviceGetMemoryInfo", mig)
                instances.append(
                    MigInstance(
                        gpu_instance_id=self.opt("nvmlDeviceGetGpuInstanceId", mig),
                        compute_instance_id=self.opt("nvmlDeviceGetComputeInstanceId", mig),
                        uuid=_text(self.opt("nvmlDeviceGetUUID", mig)),
                        profile=m[1] if m else None,
                        memory_bytes=getattr(memory, "total", None),
                    )
                )
        return current, pending, tuple(instances)


_VIRT_MODES = {0: "none", 1: "passthrough", 2: "vgpu", 3: "host_vgpu", 4: "host_vsga"}


def read_nvml(nvml: Any) -> dict[str, GpuInfo]:
    """Every GPU NVML sees. Raises ``pynvml.NVMLError`` when NVML itself is unusable."""
    nvml.nvmlInit()
    try:
        n = _Nvml(nvml)
        driver = _text(n.opt("nvmlSystemGetDriverVersion"))
        found: dict[str, GpuInfo] = {}
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = n.opt("nvmlDeviceGetHandleByIndex", index)
            pci_info = n.opt("nvmlDeviceGetPciInfo", handle) if handle is not None else None
            address = pci.try_normalize(_text(getattr(pci_info, "busId", None)))
            if address is None:  # a GPU lost since the count, or no PCI info: nothing to key on
                continue
            memory = n.opt("nvmlDeviceGetMemoryInfo", handle)
            current, pending, instances = n.mig(handle)
            virt = n.opt("nvmlDeviceGetVirtualizationMode", handle)
            found[address] = GpuInfo(
                address=address,
                source="nvml",
                name=_text(n.opt("nvmlDeviceGetName", handle)),
                uuid=_text(n.opt("nvmlDeviceGetUUID", handle)),
                serial=_text(n.opt("nvmlDeviceGetSerial", handle)),
                part_number=_text(n.opt("nvmlDeviceGetBoardPartNumber", handle)),
                memory_bytes=getattr(memory, "total", None),
                vbios=_text(n.opt("nvmlDeviceGetVbiosVersion", handle)),
                inforom=_text(n.opt("nvmlDeviceGetInforomImageVersion", handle)),
                gsp=_text(n.opt("nvmlDeviceGetGspFirmwareVersion", handle)),
                driver_version=driver,
                device_id=_ids_from_pci_device_id(getattr(pci_info, "pciDeviceId", None)),
                mig_enabled=current,
                mig_pending=pending,
                mig=instances,
                virtualization_mode=_VIRT_MODES.get(virt) if virt is not None else None,
            )
        return found
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            nvml.nvmlShutdown()


def _find(node: ET.Element, path: str) -> str | None:
    return clean(node.findtext(path))


def _first(node: ET.Element, *paths: str) -> str | None:
    for path in paths:
        value = _find(node, path)
        if value is not None:
            return value
    return None


def _mig_mode(value: str | None) -> bool | None:
    return None if value is None else value.lower() == "enabled"


def smi_root(text: str) -> ET.Element:
    """The ``<nvidia_smi_log>`` of ``nvidia-smi -q -x``; ``ToolOutputError`` when it is not one."""
    # The output comes from a local tool, but entity definitions are never needed: refuse them
    # rather than let expat expand anything.
    if "<!ENTITY" in text:
        raise ToolOutputError("nvidia-smi", "output defines XML entities; refusing to parse")
    try:
        root = ET.fromstring(text)  # noqa: S314 - local tool output, entities refused above
    except ET.ParseError as err:
        raise ToolOutputError("nvidia-smi", f"unparseable XML: {err}") from err
    if root.tag != "nvidia_smi_log":
        raise ToolOutputError("nvidia-smi", f"unexpected root element <{root.tag}>")
    return root


def parse_smi_xml(text: str) -> dict[str, GpuInfo]:
    """GPUs from ``nvidia-smi -q -x``; ``ToolOutputError`` when it is not that document."""
    root = smi_root(text)
    driver = _find(root, "driver_version")
    found: dict[str, GpuInfo] = {}
    for gpu in root.findall("gpu"):
        address = pci.try_normalize(gpu.get("id") or _find(gpu, "pci/pci_bus_id"))
        if address is None:
            continue
        instances = tuple(
            MigInstance(
                gpu_instance_id=_int(_find(m, "gpu_instance_id")),
                compute_instance_id=_int(_find(m, "compute_instance_id")),
                memory_bytes=parse_size(_find(m, "fb_memory_usage/total")),
            )
            for m in gpu.findall("mig_devices/mig_device")
        )
        found[address] = GpuInfo(
            address=address,
            source="nvidia-smi",
            name=_find(gpu, "product_name"),
            uuid=_find(gpu, "uuid"),
            serial=_find(gpu, "serial"),
            part_number=_find(gpu, "board_part_number"),
            memory_bytes=parse_size(_find(gpu, "fb_memory_usage/total")),
            vbios=_find(gpu, "vbios_version"),
            inforom=_first(gpu, "inforom_version/img_version", "inforom_version/image_version"),
            gsp=_find(gpu, "gsp_firmware_version"),
            driver_version=driver,
            device_id=_ids_from_pci_device_id(_find(gpu, "pci/pci_device_id")),
            mig_enabled=_mig_mode(_find(gpu, "mig_mode/current_mig")),
            mig_pending=_mig_mode(_find(gpu, "mig_mode/pending_mig")),
            mig=instances,
            virtualization_mode=_virt_text(
                gpu.findtext("gpu_virtualization_mode/virtualization_mode")
            ),
        )
    return found


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _virt_text(value: str | None) -> str | None:
    # "None" is a mode here (no virtualization), not a missing value; N/A is missing.
    text = (value or "").strip()
    if text.lower() in ("", "n/a", "[n/a]"):
        return None
    return re.sub(r"[^a-z]+", "_", text.lower()).strip("_")


_PROC_DRIVER_RE = re.compile(r"Kernel Module\s+(?:for\s+\S+\s+)?(\d[\w.-]*)")


def read_proc(reader: SysfsReader) -> dict[str, GpuInfo]:
    """GPUs from ``/proc/driver/nvidia`` (present while the kernel module is loaded)."""
    version = reader.read("proc/driver/nvidia/version") or ""
    m = _PROC_DRIVER_RE.search(version)
    driver = m[1] if m else None
    found: dict[str, GpuInfo] = {}
    for entry in reader.listdir("proc/driver/nvidia/gpus"):
        address = pci.try_normalize(entry)
        text = reader.read(f"proc/driver/nvidia/gpus/{entry}/information")
        if address is None or text is None:
            continue
        fields = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        found[address] = GpuInfo(
            address=address,
            source="procfs",
            name=clean(fields.get("model")),
            uuid=clean(fields.get("gpu uuid")),
            vbios=clean(fields.get("video bios")),
            driver_version=driver,
            excluded=(fields.get("gpu excluded", "").lower() == "yes"),
        )
    return found
