"""FPGA usage sources: hwmon in sysfs first, then ``fpgainfo power``/``temp`` (Intel) or
``xbutil examine --report electrical thermal`` (Xilinx) for what hwmon did not give.

FPGAs have no utilization counter: only power, temperature, and whether a function (an AFU or
xclbin) is loaded. Intel DFL cards publish hwmon devices below the card (``dfl_fme_power``:
``power1_input`` in microwatts; ``dfl_fme_thermal``: ``temp1_input`` in millidegrees; the MAX10
BMC's hwmon likewise). ``fpgainfo`` prints, per card, its common header (with ``PCIe s:b:d.f``)
and then ``( n) Name : value unit`` lines, ``N/A`` where a sensor could not be read. XRT's user
function has a hwmon with ``power1_input`` (microwatts); ``xbutil``'s JSON report has
``electrical.power_consumption_watts`` and ``thermals[]`` (``location_id``, ``temp_C``,
``is_present``), every value a string.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cyborg_lite.drivers import pci
from cyborg_lite.drivers.common import clean
from cyborg_lite.drivers.host import SysfsReader, ToolOutputError
from cyborg_lite.drivers.usage import Figures, divided, number

# Sensor names preferred for a card's one power and one temperature figure, best first.
_POWER_NAMES = ("board power", "total input power", "fpga power")
_TEMP_NAMES = ("fpga die temperature", "fpga temperature", "board temperature")
# hwmon devices preferred, by their ``name``; any other below the card comes after these.
_HWMON_ORDER = ("dfl_fme_power", "dfl_fme_thermal")


def _hwmons(reader: SysfsReader, sysfs_dir: str) -> list[str]:
    found = {
        path.rsplit("/", 1)[0] for path in reader.find(sysfs_dir, "name") if "/hwmon/hwmon" in path
    }

    def rank(hwmon: str) -> tuple[int, str]:
        name = reader.read(f"{hwmon}/name") or ""
        return (_HWMON_ORDER.index(name) if name in _HWMON_ORDER else len(_HWMON_ORDER), hwmon)

    return sorted(found, key=rank)


def read_hwmon(reader: SysfsReader, sysfs_dir: str) -> Figures:
    """Power and temperature from the hwmon devices below a card's PCI directory."""
    power = temp = None
    for hwmon in _hwmons(reader, sysfs_dir):
        if power is None:
            power = divided(reader.read(f"{hwmon}/power1_input"), 1e6)  # microwatts
        if temp is None:
            temp = divided(reader.read(f"{hwmon}/temp1_input"), 1000)  # millidegrees
    return Figures(power_watts=power, temperature_celsius=temp)


_METRIC_RE = re.compile(r"^\(\s*\d+\)\s*(?P<name>.+?)\s*:\s*(?P<value>.*?)\s*$")
_ADDRESS_RE = re.compile(r"^pcie s:b:d[.:]f\s*:\s*(?P<address>\S+)", re.IGNORECASE)


def parse_fpgainfo_metrics(text: str) -> dict[str, dict[str, tuple[float, str]]]:
    """``fpgainfo power`` or ``temp``: each card's readable sensors, {name: (value, unit)}.

    Names are lower case; a sensor printed ``N/A`` is left out. ``ToolOutputError`` when the
    output names no card at all.
    """
    cards: dict[str, dict[str, tuple[float, str]]] = {}
    current: dict[str, tuple[float, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        m = _ADDRESS_RE.match(line)
        if m is not None:
            address = pci.try_normalize(m["address"])
            current = cards.setdefault(address, {}) if address else None
            continue
        m = _METRIC_RE.match(line)
        if m is None or current is None:
            continue
        value, _, unit = m["value"].partition(" ")
        reading = number(value)
        if reading is not None:
            current.setdefault(m["name"].lower(), (reading, unit.strip()))
    if not cards and text.strip():
        raise ToolOutputError("fpgainfo", "no card with a PCIe s:b:d.f line in its output")
    return cards


def pick(sensors: dict[str, tuple[float, str]], names: tuple[str, ...], unit: str) -> float | None:
    """The first of ``names`` that was read, else any sensor in ``unit``; None if none."""
    for name in names:
        if name in sensors and sensors[name][1].lower() == unit:
            return sensors[name][0]
    return next((v for v, u in sensors.values() if u.lower() == unit), None)


def fpgainfo_figures(
    power: dict[str, tuple[float, str]] | None, temp: dict[str, tuple[float, str]] | None
) -> Figures:
    """One card's figures from its ``fpgainfo power`` and ``temp`` sensors."""
    return Figures(
        power_watts=pick(power, _POWER_NAMES, "watts") if power else None,
        temperature_celsius=pick(temp, _TEMP_NAMES, "celsius") if temp else None,
    )


def _str(node: Any, key: str) -> str | None:
    value = node.get(key) if isinstance(node, dict) else None
    return clean(value) if isinstance(value, (str, int, float)) else None


def parse_xbutil(text: str) -> dict[str, Figures]:
    """``xbutil examine ... --report electrical thermal --format JSON`` by user function."""
    try:
        root = json.loads(text)
    except ValueError as err:
        raise ToolOutputError("xbutil", f"unparseable JSON: {err}") from err
    devices = root.get("devices") if isinstance(root, dict) else None
    if not isinstance(devices, list):
        raise ToolOutputError("xbutil", "expected a JSON object with a devices list")
    found: dict[str, Figures] = {}
    for device in devices:
        address = pci.try_normalize(_str(device, "device_id"))
        if address is None:
            continue
        temps = {
            _str(t, "location_id"): number(_str(t, "temp_C"))
            for t in device.get("thermals") or ()
            if isinstance(t, dict) and (_str(t, "is_present") or "").lower() == "true"
        }
        fpga = temps.get("fpga0")
        found[address] = Figures(
            power_watts=number(_str(device.get("electrical"), "power_consumption_watts")),
            temperature_celsius=fpga if fpga is not None else next(iter(temps.values()), None),
        )
    return found
