"""Alveo card facts from XRT sysfs and ``xbmgmt examine --report platform --format JSON``.

An Alveo card has a management function (fn 0, ``xclmgmt``) and a user function (fn 1,
``xocl``). The management function's sysfs has the running shell (``rom.*/VBNV``) and the
satellite controller (``xmc.*/bmc_ver``); the user function the loaded xclbin's UUID. The JSON
report's shape drifts between XRT releases (``platform`` vs ``platforms[]``), and every value
in it is a string: read leniently, one fixture per shape.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cyborg_lite.drivers import pci
from cyborg_lite.drivers.common import clean
from cyborg_lite.drivers.host import SysfsReader, ToolOutputError


@dataclasses.dataclass(frozen=True)
class XrtInfo:
    """What one source knows about one Alveo card; None where it does not say."""

    address: str
    source: str
    board: str | None = None
    shell: str | None = None  # the base/shell VBNV, e.g. xilinx_u250_gen3x16_base_4
    shell_id: str | None = None
    logic_uuid: str | None = None
    interface_uuid: str | None = None
    sc_version: str | None = None
    sc_expected: str | None = None  # the SC version shipped with the installed base package
    serial: str | None = None
    golden: bool | None = None
    xclbin_uuid: str | None = None


def merge(primary: XrtInfo, fallback: XrtInfo | None) -> XrtInfo:
    """``primary`` with its unknown fields taken from ``fallback``."""
    if fallback is None:
        return primary
    fills = {
        f.name: getattr(fallback, f.name)
        for f in dataclasses.fields(XrtInfo)
        if getattr(primary, f.name) is None and f.name not in ("address", "source")
    }
    return dataclasses.replace(primary, **fills)


def _first(reader: SysfsReader, pattern: str) -> str | None:
    for path in reader.glob(pattern):
        value = clean(reader.read(path))
        if value is not None:
            return value
    return None


def _is_golden(shell: str | None) -> bool | None:
    return None if shell is None else "golden" in shell.lower()


def read_sysfs(reader: SysfsReader, mgmt: pci.PciDevice, user: pci.PciDevice | None) -> XrtInfo:
    """What xclmgmt (and xocl, for the xclbin) publish in sysfs."""
    d = mgmt.sysfs_dir
    shell = _first(reader, f"{d}/rom.*/VBNV")
    interface = clean((reader.read(f"{d}/interface_uuids") or "").split("\n")[0])
    logic = clean((reader.read(f"{d}/logic_uuids") or "").split("\n")[0])
    xclbin = clean(reader.read(f"{user.sysfs_dir}/xclbinuuid")) if user else None
    return XrtInfo(
        address=mgmt.address,
        source="sysfs",
        board=clean(reader.read(f"{d}/board_name")),
        shell=shell,
        logic_uuid=logic,
        interface_uuid=interface,
        sc_version=_first(reader, f"{d}/xmc.*/bmc_ver"),
        serial=_first(reader, f"{d}/xmc.*/serial_num"),
        golden=_is_golden(shell),
        # XRT writes the all-zero UUID when no xclbin is loaded.
        xclbin_uuid=xclbin if xclbin and xclbin.strip("0-") else None,
    )


def _get(node: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _str(node: Any, *path: str) -> str | None:
    value = _get(node, *path)
    return clean(value) if isinstance(value, (str, int, float)) else None


def _platform(device: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    for holder in (device, root):
        platform = holder.get("platform")
        if isinstance(platform, dict):
            return platform
        platforms = holder.get("platforms")
        if isinstance(platforms, list) and platforms and isinstance(platforms[0], dict):
            return platforms[0]
    return {}


def _info_from(address: str, p: dict[str, Any]) -> XrtInfo:
    # Older XRT: platform.current_shell.*; newer: platforms[].static_region + controller.
    shell = _str(p, "current_shell", "vbnv") or _str(p, "static_region", "vbnv")
    factory = _str(p, "status", "is_factory")
    golden = _is_golden(shell)
    if factory is not None:
        golden = factory.lower() == "true" or bool(golden)
    return XrtInfo(
        address=address,
        source="xbmgmt",
        board=_str(p, "device_properties", "board_name") or _str(p, "static_region", "fpga_name"),
        shell=shell,
        shell_id=_str(p, "current_shell", "id") or _str(p, "static_region", "id"),
        logic_uuid=_str(p, "current_shell", "logic-uuid") or _str(p, "static_region", "logic_uuid"),
        interface_uuid=_str(p, "current_shell", "interface-uuid")
        or _str(p, "static_region", "interface_uuid"),
        sc_version=_str(p, "current_shell", "sc_version")
        or _str(p, "controller", "satellite_controller", "version"),
        sc_expected=_str(p, "controller", "satellite_controller", "expected_version"),
        serial=_str(p, "hardware", "serial_num")
        or _str(p, "controller", "card_mgmt_controller", "serial_number"),
        golden=golden,
    )


def parse_xbmgmt(text: str) -> dict[str, XrtInfo]:
    """Cards from an ``xbmgmt examine`` JSON report, by management-function address."""
    try:
        root = json.loads(text)
    except ValueError as err:
        raise ToolOutputError("xbmgmt", f"unparseable JSON: {err}") from err
    if not isinstance(root, dict):
        raise ToolOutputError("xbmgmt", "expected a JSON object")
    devices = root.get("devices")
    if not isinstance(devices, list):
        devices = []
    found: dict[str, XrtInfo] = {}
    for device in devices:
        if not isinstance(device, dict):
            continue
        platform = _platform(device, root if len(devices) == 1 else {})
        address = pci.try_normalize(_str(device, "device_id") or _str(platform, "bdf"))
        if address is not None:
            found[address] = _info_from(address, platform)
    if not devices:
        platform = _platform({}, root)
        address = pci.try_normalize(_str(platform, "bdf"))
        if address is not None:
            found[address] = _info_from(address, platform)
    return found
