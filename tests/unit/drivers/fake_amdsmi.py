"""An in-memory amdsmi for the AMD driver's tests: the documented dict shapes, "N/A" strings
for unavailable values, and library-exception look-alikes for unsupported calls."""

from __future__ import annotations

import enum
from types import SimpleNamespace
from typing import Any


class AmdSmiLibraryException(Exception):
    """Stands in for amdsmi's exception (``get_error_code``)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"amdsmi error {code}")
        self.code = code

    def get_error_code(self) -> int:
        return self.code


NOT_SUPPORTED, DRIVER_NOT_LOADED = 2, 47


class AmdSmiFwBlock(enum.Enum):
    """A few firmware block ids, as the real enum names them."""

    AMDSMI_FW_ID_SMU = 1
    AMDSMI_FW_ID_PSP_SOSDRV = 2
    AMDSMI_FW_ID_MEC = 3
    AMDSMI_FW_ID_PLDM_BUNDLE = 4


class AmdSmiTemperatureType(enum.IntEnum):
    """The sensors, as the real enum names them."""

    EDGE = 0
    HOTSPOT = 1
    VRAM = 2


class AmdSmiTemperatureMetric(enum.IntEnum):
    CURRENT = 0
    MAX = 1


class FakeAmdSmi:
    """Module-like stand-in for ``amdsmi``."""

    AmdSmiInitFlags = SimpleNamespace(INIT_AMD_GPUS=2)
    AmdSmiTemperatureType = AmdSmiTemperatureType
    AmdSmiTemperatureMetric = AmdSmiTemperatureMetric

    def __init__(self, gpus: list[dict[str, Any]], *, init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.shut_down = 0

    def _get(self, handle: int, key: str) -> Any:
        value = self.gpus[handle].get(key)
        if value is None:
            raise AmdSmiLibraryException(NOT_SUPPORTED)
        return value

    def amdsmi_init(self, flags: int) -> None:
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)

    def amdsmi_shut_down(self) -> None:
        self.shut_down += 1

    def amdsmi_get_processor_handles(self) -> list[int]:
        return list(range(len(self.gpus)))

    def amdsmi_get_gpu_device_bdf(self, h: int) -> str:
        return self._get(h, "bdf")

    def amdsmi_get_gpu_asic_info(self, h: int) -> dict[str, Any]:
        return self._get(h, "asic")

    def amdsmi_get_gpu_board_info(self, h: int) -> dict[str, Any]:
        return self._get(h, "board")

    def amdsmi_get_gpu_vbios_info(self, h: int) -> dict[str, Any]:
        return self._get(h, "vbios")

    def amdsmi_get_gpu_driver_info(self, h: int) -> dict[str, Any]:
        return self._get(h, "driver")

    def amdsmi_get_gpu_vram_info(self, h: int) -> dict[str, Any]:
        return self._get(h, "vram")

    def amdsmi_get_fw_info(self, h: int) -> dict[str, Any]:
        return self._get(h, "fw")

    # Usage: "activity", "power", "vram_usage" dicts, "temps" by sensor name, "processes".

    def amdsmi_get_gpu_activity(self, h: int) -> dict[str, Any]:
        return self._get(h, "activity")

    def amdsmi_get_power_info(self, h: int) -> dict[str, Any]:
        return self._get(h, "power")

    def amdsmi_get_gpu_vram_usage(self, h: int) -> dict[str, Any]:
        return self._get(h, "vram_usage")

    def amdsmi_get_temp_metric(self, h: int, sensor: Any, metric: Any) -> int:
        assert metric is AmdSmiTemperatureMetric.CURRENT
        value = self._get(h, "temps").get(sensor.name)
        if value is None:
            raise AmdSmiLibraryException(NOT_SUPPORTED)
        return value

    def amdsmi_get_gpu_process_list(self, h: int) -> list[Any]:
        return self._get(h, "processes")
