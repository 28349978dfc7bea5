"""NVIDIA usage sources: NVML, else ``nvidia-smi --query-gpu`` / ``--query-compute-apps`` CSV.

Each yields ``GpuUsage`` by canonical PCI address: the whole GPU's figures and, with MIG on,
each instance's by (GPU instance id, compute instance id). NVML's device utilization is not
supported on MIG (it raises NotSupported for a MIG handle, and for the parent in MIG mode;
NVIDIA points to the graphics-engine activity fields instead), so a slice reports its memory and
processes and its utilization stays unknown unless the source gives one. ``nvidia-smi``'s CSV
has no MIG rows; with MIG on, one ``nvidia-smi -q -x`` gives each instance's memory and
processes (``mig_devices/mig_device``, ``processes/process_info`` with instance ids).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import pynvml

from cyborg_lite.drivers import pci
from cyborg_lite.drivers.common import clean, parse_size
from cyborg_lite.drivers.host import ToolOutputError
from cyborg_lite.drivers.nvidia_sources import smi_root
from cyborg_lite.drivers.usage import Figures, divided, number, percent, scaled, whole

MIB = 2**20
# One row per GPU; with ``nounits`` memory is MiB, power W, temperature C.
QUERY_GPU = (
    "pci.bus_id",
    "uuid",
    "utilization.gpu",
    "memory.used",
    "memory.total",
    "power.draw",
    "temperature.gpu",
)
QUERY_APPS = ("gpu_uuid", "pid", "used_memory")
CSV_FORMAT = "--format=csv,noheader,nounits"

MigKey = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class GpuUsage:
    """One GPU's reading, and its MIG instances' by (gpu instance, compute instance) id."""

    figures: Figures
    mig: dict[MigKey, Figures] = dataclasses.field(default_factory=dict)


def _opt(nvml: Any, name: str, *args: Any) -> Any:
    try:
        return getattr(nvml, name)(*args)
    except pynvml.NVMLError:
        # NotSupported (MIG utilization, power on some boards), NoPermission, GpuIsLost...
        return None


def _nvml_figures(nvml: Any, handle: Any, *, whole_gpu: bool) -> Figures:
    util = _opt(nvml, "nvmlDeviceGetUtilizationRates", handle)
    memory = _opt(nvml, "nvmlDeviceGetMemoryInfo", handle)
    procs = _opt(nvml, "nvmlDeviceGetComputeRunningProcesses", handle)
    power = temp = None
    if whole_gpu:  # power and temperature belong to the board, not a slice
        power = divided(_opt(nvml, "nvmlDeviceGetPowerUsage", handle), 1000)  # milliwatts
        sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
        temp = number(_opt(nvml, "nvmlDeviceGetTemperature", handle, sensor))
    return Figures(
        utilization_percent=percent(getattr(util, "gpu", None)),
        memory_used_bytes=whole(number(getattr(memory, "used", None))),
        memory_total_bytes=whole(number(getattr(memory, "total", None))),
        power_watts=power,
        temperature_celsius=temp,
        processes=len(procs) if procs is not None else None,
    )


def _nvml_migs(nvml: Any, handle: Any) -> dict[MigKey, Figures]:
    modes = _opt(nvml, "nvmlDeviceGetMigMode", handle)
    if not modes or not modes[0]:
        return {}
    found = {}
    for index in range(_opt(nvml, "nvmlDeviceGetMaxMigDeviceCount", handle) or 0):
        mig = _opt(nvml, "nvmlDeviceGetMigDeviceHandleByIndex", handle, index)
        if mig is None:  # an empty slot
            continue
        gi = _opt(nvml, "nvmlDeviceGetGpuInstanceId", mig)
        ci = _opt(nvml, "nvmlDeviceGetComputeInstanceId", mig)
        if gi is not None and ci is not None:
            found[(int(gi), int(ci))] = _nvml_figures(nvml, mig, whole_gpu=False)
    return found


def read_nvml_usage(nvml: Any) -> dict[str, GpuUsage]:
    """Every GPU's reading through NVML. Raises ``pynvml.NVMLError`` when NVML is unusable."""
    nvml.nvmlInit()
    try:
        found: dict[str, GpuUsage] = {}
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = _opt(nvml, "nvmlDeviceGetHandleByIndex", index)
            info = _opt(nvml, "nvmlDeviceGetPciInfo", handle) if handle is not None else None
            address = pci.try_normalize(clean(_text(getattr(info, "busId", None))))
            if address is None:
                continue
            found[address] = GpuUsage(
                _nvml_figures(nvml, handle, whole_gpu=True), _nvml_migs(nvml, handle)
            )
        return found
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            nvml.nvmlShutdown()


def _text(value: Any) -> Any:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _rows(text: str, width: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) == width:
            rows.append(cells)
    return rows


def parse_query_gpu(text: str) -> dict[str, tuple[str | None, Figures]]:
    """``nvidia-smi --query-gpu=<QUERY_GPU> --format=csv,noheader,nounits`` by address.

    Each value is (GPU UUID, figures); ``[N/A]`` and ``[Not Supported]`` cells are unknown.
    ``ToolOutputError`` when no line is a row of the query (a message instead of CSV).
    """
    found: dict[str, tuple[str | None, Figures]] = {}
    for bus_id, uuid, util, used, total, power, temp in _rows(text, len(QUERY_GPU)):
        address = pci.try_normalize(bus_id)
        if address is None:
            continue
        found[address] = (
            clean(uuid),
            Figures(
                utilization_percent=percent(util),
                memory_used_bytes=whole(scaled(used, MIB)),
                memory_total_bytes=whole(scaled(total, MIB)),
                power_watts=number(power),
                temperature_celsius=number(temp),
            ),
        )
    if not found and text.strip():
        raise ToolOutputError("nvidia-smi", f"no --query-gpu rows in: {text.strip()[:200]!r}")
    return found


def parse_query_apps(text: str) -> dict[str, int]:
    """Compute processes per GPU UUID from ``--query-compute-apps=gpu_uuid,pid,used_memory``.

    No process prints nothing at all; a GPU missing here runs none.
    """
    counts: dict[str, int] = {}
    for uuid, pid, _memory in _rows(text, len(QUERY_APPS)):
        if clean(uuid) and pid.isdigit():
            counts[uuid] = counts.get(uuid, 0) + 1
    return counts


def _ids(node: Any) -> MigKey | None:
    gi, ci = (clean(node.findtext(k)) for k in ("gpu_instance_id", "compute_instance_id"))
    if gi is None or ci is None or not gi.isdigit() or not ci.isdigit():
        return None
    return int(gi), int(ci)


def parse_mig_usage(text: str) -> dict[str, dict[MigKey, Figures]]:
    """Per MIG instance memory and compute processes from ``nvidia-smi -q -x``, by address."""
    found: dict[str, dict[MigKey, Figures]] = {}
    for gpu in smi_root(text).findall("gpu"):
        address = pci.try_normalize(gpu.get("id") or clean(gpu.findtext("pci/pci_bus_id")))
        if address is None:
            continue
        procs: dict[MigKey, int] = {}
        for proc in gpu.findall("processes/process_info"):
            key = _ids(proc)
            if key is not None:
                procs[key] = procs.get(key, 0) + 1
        found[address] = {
            key: Figures(
                memory_used_bytes=parse_size(clean(m.findtext("fb_memory_usage/used"))),
                memory_total_bytes=parse_size(clean(m.findtext("fb_memory_usage/total"))),
                processes=procs.get(key, 0),
            )
            for m in gpu.findall("mig_devices/mig_device")
            if (key := _ids(m)) is not None
        }
    return found
