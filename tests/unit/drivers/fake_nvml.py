"""An in-memory NVML for the NVIDIA driver's tests (after go-nvml's dgxa100 mock).

Per-GPU tables, and per-call error injection raising the real ``pynvml.NVMLError_*`` classes
(``pynvml.NVMLError(code)`` builds the right subclass without the library). Calls before
``nvmlInit`` raise ``Uninitialized`` as the library does; setters record that they were called,
so a test can prove the driver never changes MIG.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pynvml


@dataclasses.dataclass
class Handle:
    """A GPU handle, or a MIG device handle (``mig`` = its index on the parent)."""

    index: int
    mig: int | None = None


class FakeNvml:
    """Module-like stand-in for ``pynvml``."""

    def __init__(
        self,
        gpus: list[dict[str, Any]],
        *,
        init_error: int | None = None,
        errors: dict[tuple[str, int | None], int] | None = None,
        driver_version: str = "550.54.15",
    ) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.errors = errors or {}
        self.driver_version = driver_version
        self.initialized = 0
        self.setter_calls: list[str] = []

    def _check(self, name: str, index: int | None = None) -> None:
        if not self.initialized:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        for key in ((name, index), (name, None)):
            if key in self.errors:
                raise pynvml.NVMLError(self.errors[key])

    def _gpu(self, name: str, handle: Handle) -> dict[str, Any]:
        self._check(name, handle.index)
        return self.gpus[handle.index]

    def _field(self, name: str, handle: Handle, key: str) -> Any:
        gpu = self._gpu(name, handle)
        value = gpu["mig_devices"][handle.mig].get(key) if handle.mig is not None else gpu.get(key)
        if value is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return value

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialized += 1

    def nvmlShutdown(self) -> None:
        self._check("nvmlShutdown")
        self.initialized -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._check("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Handle:
        self._check("nvmlDeviceGetHandleByIndex", index)
        return Handle(index)

    def nvmlDeviceGetPciInfo(self, h: Handle) -> Any:
        gpu = self._gpu("nvmlDeviceGetPciInfo", h)
        return SimpleNamespace(busId=gpu["bus_id"], pciDeviceId=gpu["pci_device_id"])

    def nvmlDeviceGetName(self, h: Handle) -> str:
        return self._field("nvmlDeviceGetName", h, "name")

    def nvmlDeviceGetUUID(self, h: Handle) -> str:
        return self._field("nvmlDeviceGetUUID", h, "uuid")

    def nvmlDeviceGetSerial(self, h: Handle) -> str:
        return self._field("nvmlDeviceGetSerial", h, "serial")

    def nvmlDeviceGetBoardPartNumber(self, h: Handle) -> str:
        return self._field("nvmlDeviceGetBoardPartNumber", h, "part_number")

    def nvmlDeviceGetMemoryInfo(self, h: Handle) -> Any:
        total = self._field("nvmlDeviceGetMemoryInfo", h, "memory")
        gpu = self.gpus[h.index]
        row = gpu["mig_devices"][h.mig] if h.mig is not None else gpu
        return SimpleNamespace(total=total, used=row.get("memory_used", 0))

    # Usage. A missing key is NotSupported, as utilization is for a MIG handle (and for the
    # parent in MIG mode) on real hardware.

    def nvmlDeviceGetUtilizationRates(self, h: Handle) -> Any:
        return SimpleNamespace(
            gpu=self._field("nvmlDeviceGetUtilizationRates", h, "util"), memory=0
        )

    def nvmlDeviceGetPowerUsage(self, h: Handle) -> int:
        return self._field("nvmlDeviceGetPowerUsage", h, "power_mw")

    def nvmlDeviceGetTemperature(self, h: Handle, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self._field("nvmlDeviceGetTemperature", h, "temp")

    def nvmlDeviceGetComputeRunningProcesses(self, h: Handle) -> list[Any]:
        pids = self._field("nvmlDeviceGetComputeRunningProcesses", h, "pids")
        return [SimpleNamespace(pid=p, usedGpuMemory=None) for p in pids]

    def nvmlDeviceGetVbiosVersion(self, h: Handle) -> str:
        return self._field("nvmlDeviceGetVbiosVersion", h, "vbios")

    def nvmlDeviceGetInforomImageVersion(self, h: Handle) -> str:
        return self._field("nvmlDeviceGetInforomImageVersion", h, "inforom")

    def nvmlDeviceGetGspFirmwareVersion(self, h: Handle) -> str:
        return self._field("nvmlDeviceGetGspFirmwareVersion", h, "gsp")

    def nvmlDeviceGetVirtualizationMode(self, h: Handle) -> int:
        return self._field("nvmlDeviceGetVirtualizationMode", h, "virt")

    def nvmlDeviceGetMigMode(self, h: Handle) -> list[int]:
        return list(self._field("nvmlDeviceGetMigMode", h, "mig_mode"))

    def nvmlDeviceGetMaxMigDeviceCount(self, h: Handle) -> int:
        return self._field("nvmlDeviceGetMaxMigDeviceCount", h, "max_mig")

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: Handle, index: int) -> Handle:
        gpu = self._gpu("nvmlDeviceGetMigDeviceHandleByIndex", h)
        if index >= len(gpu.get("mig_devices", ())) or gpu["mig_devices"][index] is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return Handle(h.index, index)

    def nvmlDeviceGetGpuInstanceId(self, h: Handle) -> int:
        return self._field("nvmlDeviceGetGpuInstanceId", h, "gi")

    def nvmlDeviceGetComputeInstanceId(self, h: Handle) -> int:
        return self._field("nvmlDeviceGetComputeInstanceId", h, "ci")

    def nvmlDeviceSetMigMode(self, h: Handle, mode: int) -> None:
        self.setter_calls.append("nvmlDeviceSetMigMode")
