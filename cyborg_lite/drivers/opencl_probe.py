"""OpenCL enumeration into plain dicts; run as ``python -m cyborg_lite.drivers.opencl_probe``.

Enumerating initialises every installed ICD, and a GPU ICD can hang on a wedged device, so the
OpenCL driver runs this module in a child process with a timeout (``[opencl] isolate``); it
prints one JSON list on stdout. It imports nothing from the agent, to start fast.

PCI correlation, where the platform tells it: NVIDIA's ``cl_nv_device_attribute_query`` (bus,
slot = device << 3 | function, domain on newer drivers) and AMD's
``cl_amd_device_attribute_query`` topology (bus, device, function; never a domain).
``cl_khr_pci_bus_info`` is not wrapped by pyopencl and is not read.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _get(obj: Any, attr: str) -> Any:
    try:
        return getattr(obj, attr)
    except Exception:  # pyopencl raises LogicError/INVALID_VALUE for absent extensions
        return None


def _pci(device: Any, extensions: str) -> dict[str, int | None] | None:
    if "cl_nv_device_attribute_query" in extensions:
        bus, slot = _get(device, "pci_bus_id_nv"), _get(device, "pci_slot_id_nv")
        if isinstance(bus, int) and isinstance(slot, int):
            domain = _get(device, "pci_domain_id_nv")
            return {
                "domain": domain if isinstance(domain, int) else None,
                "bus": bus & 0xFF,
                "device": (slot >> 3) & 0xFF,
                "function": slot & 0x7,
            }
    if "cl_amd_device_attribute_query" in extensions:
        topo = _get(device, "topology_amd")
        if topo is not None and getattr(topo, "type", None) == 1:  # 1 = PCIe
            return {
                "domain": None,
                "bus": int(topo.bus),
                "device": int(topo.device),
                "function": int(topo.function),
            }
    return None


def probe(cl: Any) -> list[dict[str, Any]]:
    """Every device of every platform ``cl`` (the pyopencl module, or a fake) reports."""
    try:
        platforms = cl.get_platforms()
    except Exception:  # no ICD at all: PLATFORM_NOT_FOUND_KHR
        return []
    found: list[dict[str, Any]] = []
    for p_index, platform in enumerate(platforms):
        try:
            devices = platform.get_devices()
        except Exception:  # a platform with no usable device (DEVICE_NOT_FOUND) has none
            devices = []
        for d_index, device in enumerate(devices):
            extensions = str(_get(device, "extensions") or "")
            found.append(
                {
                    "platform_index": p_index,
                    "device_index": d_index,
                    "platform": str(platform.name).strip(),
                    "platform_vendor": str(platform.vendor).strip(),
                    "platform_version": str(platform.version).strip(),
                    "name": str(device.name).strip(),
                    "vendor": str(_get(device, "vendor") or "").strip(),
                    "version": str(_get(device, "version") or "").strip(),
                    "driver_version": str(_get(device, "driver_version") or "").strip(),
                    "type": int(device.type),
                    "compute_units": _get(device, "max_compute_units"),
                    "global_mem_size": _get(device, "global_mem_size"),
                    "max_clock_mhz": _get(device, "max_clock_frequency"),
                    "pci": _pci(device, extensions),
                }
            )
    return found


def main() -> None:
    """Print the enumeration as JSON (for the parent's runner)."""
    import pyopencl

    json.dump(probe(pyopencl), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
