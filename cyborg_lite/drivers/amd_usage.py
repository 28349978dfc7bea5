"""AMD usage sources: amdsmi, else ``amd-smi metric --json``; amdgpu sysfs fills the gaps.

amdsmi: ``amdsmi_get_gpu_activity`` (``gfx_activity`` percent), ``amdsmi_get_power_info``
(socket power, W), ``amdsmi_get_temp_metric`` (hotspot, else edge, C),
``amdsmi_get_gpu_vram_usage`` (MB) and ``amdsmi_get_gpu_process_list`` (processes); each may
be ``"N/A"`` or unsupported (activity is not supported in a VM guest). ``amd-smi metric`` prints
the same blocks (``usage.gfx_activity``, ``power.socket_power``, ``temperature.hotspot``/
``edge``, ``mem_usage.used_vram``/``total_vram``, ``{value, unit}`` leaves in ROCm 6/7) keyed by
its GPU index, which ``amd-smi list --json`` maps to a PCI address; it lists no processes.
sysfs: ``gpu_busy_percent``, ``mem_info_vram_used``/``_total`` (bytes), hwmon
``power1_average`` (or ``power1_input``, microwatts) and ``temp*_input`` (millidegrees; the
``junction`` sensor preferred to ``edge``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from cyborg_lite.drivers import pci
from cyborg_lite.drivers.amd_sources import gpu_entries
from cyborg_lite.drivers.common import clean
from cyborg_lite.drivers.host import SysfsReader
from cyborg_lite.drivers.usage import Figures, divided, number, percent, scaled, whole

MB = 2**20  # amd-smi's and amdsmi's "MB" are binary megabytes
METRIC_ARGS = ("metric", "--usage", "--power", "--temperature", "--mem-usage", "--json")


def _vram(value: Any) -> int | None:
    return whole(scaled(value, MB))


def read_amdsmi_usage(lib: Any) -> dict[str, Figures]:
    """Every GPU's reading through amdsmi. Raises what ``amdsmi_init`` raises when unusable."""
    lib.amdsmi_init(lib.AmdSmiInitFlags.INIT_AMD_GPUS)

    def opt(name: str, *args: Any) -> Any:
        try:
            return getattr(lib, name)(*args)
        except Exception:  # the library's NOT_SUPPORTED, NO_PERM...: that figure is unknown
            return None

    kinds = getattr(lib, "AmdSmiTemperatureType", None)
    current = getattr(getattr(lib, "AmdSmiTemperatureMetric", None), "CURRENT", None)
    try:
        found: dict[str, Figures] = {}
        for handle in lib.amdsmi_get_processor_handles():
            address = pci.try_normalize(clean(opt("amdsmi_get_gpu_device_bdf", handle)))
            if address is None:
                continue
            activity = opt("amdsmi_get_gpu_activity", handle) or {}
            power = opt("amdsmi_get_power_info", handle) or {}
            vram = opt("amdsmi_get_gpu_vram_usage", handle) or {}
            procs = opt("amdsmi_get_gpu_process_list", handle)
            temp = None
            for sensor in ("HOTSPOT", "EDGE"):
                if temp is None and kinds is not None and current is not None:
                    kind = getattr(kinds, sensor, None)
                    temp = number(opt("amdsmi_get_temp_metric", handle, kind, current))
            watts = number(power.get("current_socket_power"))
            found[address] = Figures(
                utilization_percent=percent(activity.get("gfx_activity")),
                memory_used_bytes=_vram(vram.get("vram_used")),
                memory_total_bytes=_vram(vram.get("vram_total")),
                power_watts=watts
                if watts is not None
                else number(power.get("average_socket_power")),
                temperature_celsius=temp,
                processes=len(procs) if isinstance(procs, list) else None,
            )
        return found
    finally:
        with contextlib.suppress(Exception):
            lib.amdsmi_shut_down()


def parse_list(text: str) -> dict[Any, str]:
    """``amd-smi list --json``: each GPU index's canonical PCI address."""
    found = {}
    for entry in gpu_entries("amd-smi", text):
        address = pci.try_normalize(clean(entry.get("bdf")))
        if address is not None:
            found[entry["gpu"]] = address
    return found


def _get(entry: dict[str, Any], block: str, key: str) -> Any:
    value = entry.get(block)
    return value.get(key) if isinstance(value, dict) else None


def parse_metric(text: str, addresses: dict[Any, str]) -> dict[str, Figures]:
    """``amd-smi metric --usage --power --temperature --mem-usage --json`` by address.

    ``addresses`` maps amd-smi's GPU index to an address (``parse_list``); an entry that
    carries its own ``bdf`` needs none.
    """
    found: dict[str, Figures] = {}
    for entry in gpu_entries("amd-smi", text):
        address = pci.try_normalize(clean(entry.get("bdf"))) or addresses.get(entry["gpu"])
        if address is None:
            continue
        temp = number(_get(entry, "temperature", "hotspot"))
        found[address] = Figures(
            utilization_percent=percent(_get(entry, "usage", "gfx_activity")),
            memory_used_bytes=_vram(_get(entry, "mem_usage", "used_vram")),
            memory_total_bytes=_vram(_get(entry, "mem_usage", "total_vram")),
            power_watts=number(_get(entry, "power", "socket_power")),
            temperature_celsius=temp
            if temp is not None
            else number(_get(entry, "temperature", "edge")),
        )
    return found


def _hwmon_temp(reader: SysfsReader, hwmon: str) -> float | None:
    readings: dict[str, float] = {}
    for path in reader.glob(f"{hwmon}/temp*_input"):
        value = divided(reader.read(path), 1000)  # millidegrees
        if value is not None:
            label = (reader.read(path.replace("_input", "_label")) or "").lower()
            readings.setdefault(label, value)
    for label in ("junction", "edge"):
        if label in readings:
            return readings[label]
    return next(iter(readings.values()), None)


def read_sysfs_usage(reader: SysfsReader, sysfs_dir: str) -> Figures:
    """What amdgpu publishes in the GPU's PCI directory (``sysfs_dir``)."""
    power = temp = None
    for hwmon in reader.glob(f"{sysfs_dir}/hwmon/hwmon*"):
        for name in ("power1_average", "power1_input"):
            if power is None:
                power = divided(reader.read(f"{hwmon}/{name}"), 1e6)  # microwatts
        if temp is None:
            temp = _hwmon_temp(reader, hwmon)
    return Figures(
        utilization_percent=percent(reader.read(f"{sysfs_dir}/gpu_busy_percent")),
        memory_used_bytes=whole(number(reader.read(f"{sysfs_dir}/mem_info_vram_used"))),
        memory_total_bytes=whole(number(reader.read(f"{sysfs_dir}/mem_info_vram_total"))),
        power_watts=power,
        temperature_celsius=temp,
    )
