"""The AMD enrichment ladder's sources: amdsmi, ``amd-smi --json``, ``rocm-smi --json``, sysfs.

Each yields ``AmdInfo`` records keyed by canonical PCI address. The amdsmi module is imported
once, guarded: without ROCm its import raises ``KeyError`` (not ImportError) after printing to
stdout, which would corrupt an agent writing JSON there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import threading
from typing import Any

from cyborg_lite.drivers import pci
from cyborg_lite.drivers.common import clean, parse_size
from cyborg_lite.drivers.host import SysfsReader, ToolOutputError


@dataclasses.dataclass(frozen=True)
class AmdInfo:
    """What one source knows about one AMD GPU; None where it does not say."""

    address: str
    source: str
    name: str | None = None
    serial: str | None = None
    unique_id: str | None = None
    vbios: str | None = None
    vbios_part_number: str | None = None
    driver_version: str | None = None
    memory_bytes: int | None = None
    device_id: str | None = None
    # Firmware blocks by component name (smc, psp_sos, pldm_bundle), read only.
    firmware: tuple[tuple[str, str], ...] = ()


def merge(primary: AmdInfo, fallback: AmdInfo | None) -> AmdInfo:
    """``primary`` with its unknown fields taken from ``fallback`` (sysfs fills the gaps)."""
    if fallback is None:
        return primary
    fills = {
        f.name: getattr(fallback, f.name)
        for f in dataclasses.fields(AmdInfo)
        if getattr(primary, f.name) in (None, ()) and f.name not in ("address", "source")
    }
    return dataclasses.replace(primary, **fills)


# Firmware blocks worth tracking (the rest is driver-loaded microcode that changes with the
# kernel), by every name the sources use.
_FW_NAMES = {
    "smu": "smc",
    "pm": "smc",
    "smc": "smc",
    "psp_sosdrv": "psp_sos",
    "sos": "psp_sos",
    "pldm_bundle": "pldm_bundle",
}


def _fw_component(name: str) -> str | None:
    key = name.rsplit(".", 1)[-1].lower()
    key = re.sub(r"^(amdsmi_fw_id_|fw_id_)", "", key)
    key = re.sub(r"_fw_version$", "", key)
    return _FW_NAMES.get(key)


def _vram_bytes(value: Any) -> int | None:
    # amd-smi's "MB" are binary megabytes.
    text = clean(_leaf(value))
    return parse_size(re.sub(r"(?i)\b([KMGT])B\b", r"\1iB", text), "MiB") if text else None


def _hex4(value: Any) -> str | None:
    text = clean(value)
    if text is None:
        return None
    try:
        return f"{int(text, 16):04x}"
    except ValueError:
        return None


_amdsmi_lock = threading.Lock()
_amdsmi_cache: list[Any] = []


def load_amdsmi() -> Any:
    """The amdsmi module, or None when it cannot be imported; tried once per process."""
    with _amdsmi_lock:
        if not _amdsmi_cache:
            sink = io.StringIO()
            try:
                with contextlib.redirect_stdout(sink):
                    import amdsmi  # type: ignore[import-not-found,unused-ignore]
            except Exception:  # KeyError without ROCm, ImportError without the package
                amdsmi = None
            _amdsmi_cache.append(amdsmi)
        return _amdsmi_cache[0]


def read_amdsmi(lib: Any) -> dict[str, AmdInfo]:
    """Every GPU amdsmi sees. Raises whatever ``amdsmi_init`` raises when it is unusable."""
    lib.amdsmi_init(lib.AmdSmiInitFlags.INIT_AMD_GPUS)

    def opt(name: str, *args: Any) -> Any:
        try:
            return getattr(lib, name)(*args)
        except Exception:  # amdsmi raises its own library exceptions (NOT_SUPPORTED, NO_PERM...)
            return None

    try:
        found: dict[str, AmdInfo] = {}
        for handle in lib.amdsmi_get_processor_handles():
            address = pci.try_normalize(clean(opt("amdsmi_get_gpu_device_bdf", handle)))
            if address is None:
                continue
            asic = opt("amdsmi_get_gpu_asic_info", handle) or {}
            board = opt("amdsmi_get_gpu_board_info", handle) or {}
            vbios = opt("amdsmi_get_gpu_vbios_info", handle) or {}
            driver = opt("amdsmi_get_gpu_driver_info", handle) or {}
            vram = opt("amdsmi_get_gpu_vram_info", handle) or {}
            fw = opt("amdsmi_get_fw_info", handle) or {}
            blocks = []
            for entry in fw.get("fw_list", ()):
                block = entry.get("fw_name")
                label = getattr(block, "name", None) or str(block)
                component = _fw_component(label)
                version = clean(entry.get("fw_version"))
                if component and version:
                    blocks.append((component, version))
            found[address] = AmdInfo(
                address=address,
                source="amdsmi",
                name=clean(asic.get("market_name")) or clean(board.get("product_name")),
                serial=clean(board.get("product_serial")) or clean(asic.get("asic_serial")),
                vbios=clean(vbios.get("version")),
                vbios_part_number=clean(vbios.get("part_number")),
                driver_version=clean(driver.get("driver_version")),
                memory_bytes=_vram_bytes(vram.get("vram_size")),
                device_id=_hex4(asic.get("device_id")),
                firmware=tuple(dict(blocks).items()),
            )
        return found
    finally:
        with contextlib.suppress(Exception):
            lib.amdsmi_shut_down()


def _leaf(value: Any) -> Any:
    # ROCm 6/7 write {"value": N, "unit": "MB"}; older releases a plain value or "N MB".
    if isinstance(value, dict) and "value" in value:
        unit = value.get("unit")
        return f"{value['value']} {unit}" if unit else value["value"]
    return value


def _block(entry: dict[str, Any], name: str) -> dict[str, Any]:
    value = entry.get(name)
    return {k: _leaf(v) for k, v in value.items()} if isinstance(value, dict) else {}


def gpu_entries(tool: str, text: str) -> list[dict[str, Any]]:
    """The GPU entries of an amd-smi ``--json`` document (a list, or a ``gpu_data``/``gpus``
    envelope); ToolOutputError when it is neither."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ToolOutputError(tool, f"unparseable JSON: {err}") from err
    if isinstance(data, dict):
        data = data.get("gpu_data", data.get("gpus"))
    if not isinstance(data, list):
        raise ToolOutputError(tool, "expected a list of GPUs or a gpu_data envelope")
    # CPU entries (amd-smi on APU/EPYC hosts) carry "cpu" instead of "gpu".
    return [e for e in data if isinstance(e, dict) and "gpu" in e]


def parse_amd_smi(static: str, firmware: str | None = None) -> dict[str, AmdInfo]:
    """GPUs from ``amd-smi static --json`` and, when given, ``amd-smi firmware --json``."""
    blocks_by_gpu: dict[Any, list[tuple[str, str]]] = {}
    if firmware is not None:
        for entry in gpu_entries("amd-smi", firmware):
            for fw in entry.get("fw_list", ()):
                if not isinstance(fw, dict):
                    continue
                component = _fw_component(str(fw.get("fw_id", fw.get("fw_name", ""))))
                version = clean(_leaf(fw.get("fw_version")))
                if component and version:
                    blocks_by_gpu.setdefault(entry["gpu"], []).append((component, version))
    found: dict[str, AmdInfo] = {}
    for entry in gpu_entries("amd-smi", static):
        bus, asic, board = _block(entry, "bus"), _block(entry, "asic"), _block(entry, "board")
        vbios, driver, vram = _block(entry, "vbios"), _block(entry, "driver"), _block(entry, "vram")
        address = pci.try_normalize(clean(bus.get("bdf")))
        if address is None:
            continue
        found[address] = AmdInfo(
            address=address,
            source="amd-smi",
            name=clean(asic.get("market_name")) or clean(board.get("product_name")),
            serial=clean(board.get("product_serial")) or clean(asic.get("asic_serial")),
            vbios=clean(vbios.get("version")),
            vbios_part_number=clean(vbios.get("part_number")),
            driver_version=clean(driver.get("version")),
            memory_bytes=_vram_bytes(vram.get("size")),
            device_id=_hex4(asic.get("device_id")),
            firmware=tuple(dict(blocks_by_gpu.get(entry["gpu"], ())).items()),
        )
    return found


def _norm_key(key: str) -> str:
    # rocm-smi's key spellings drift in case and spacing ("VBIOS version"/"VBIOS Version").
    return " ".join(key.lower().split())


def parse_rocm_smi(text: str) -> dict[str, AmdInfo]:
    """GPUs from ``rocm-smi --showproductname --showvbios --showbus ... --json``."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ToolOutputError("rocm-smi", f"unparseable JSON: {err}") from err
    if not isinstance(data, dict):
        raise ToolOutputError("rocm-smi", "expected a JSON object of cards")
    system = {_norm_key(k): v for k, v in (data.get("system") or {}).items()}
    found: dict[str, AmdInfo] = {}
    for card, fields in data.items():
        if not card.startswith("card") or not isinstance(fields, dict):
            continue
        f = {_norm_key(k): v for k, v in fields.items()}
        address = pci.try_normalize(clean(f.get("pci bus") or f.get("pcie bus")))
        if address is None:
            continue
        found[address] = AmdInfo(
            address=address,
            source="rocm-smi",
            name=clean(f.get("card series")) or clean(f.get("device name")),
            serial=clean(f.get("serial number")),
            unique_id=clean(f.get("unique id")),
            vbios=clean(f.get("vbios version")),
            driver_version=clean(system.get("driver version")),
            device_id=_hex4(f.get("device id")),
        )
    return found


def read_sysfs(reader: SysfsReader, dev: pci.PciDevice) -> AmdInfo:
    """What the amdgpu kernel driver publishes in the GPU's PCI directory."""
    d = dev.sysfs_dir
    blocks = []
    for name in reader.listdir(f"{d}/fw_version"):
        component = _fw_component(name)
        version = clean(reader.read(f"{d}/fw_version/{name}"))
        if component and version:
            blocks.append((component, version))
    vram = reader.read(f"{d}/mem_info_vram_total")
    return AmdInfo(
        address=dev.address,
        source="sysfs",
        name=clean(reader.read(f"{d}/product_name")),
        serial=clean(reader.read(f"{d}/serial_number")),
        unique_id=clean(reader.read(f"{d}/unique_id")),
        vbios=clean(reader.read(f"{d}/vbios_version")),
        memory_bytes=int(vram) if vram and vram.isdigit() else None,
        firmware=tuple(dict(blocks).items()),
    )
