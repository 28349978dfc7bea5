"""The Xilinx (AMD) Alveo driver, on XRT: sysfs first, ``xbmgmt examine`` for the rest.

A card is its management function (matched by id or by the ``xclmgmt`` binding); the user
function next to it is what an instance gets. Firmware components:

- ``fpga_shell``: the base shell, with the satellite controller, flashed by ``xbmgmt program
  --base``; the card keeps running the old one until a cold ``power_cycle``. Flash one card at
  a time (Xilinx AR 71915: multi-card flashes corrupted cards that XRT reported as fine).
- ``fpga_sc``: the satellite controller firmware, read only here (flashed with the base).
- ``bitstream``: the user xclbin, loaded by ``xbutil program``; ``live``.

Usage (``sample``): power and temperature from the user function's hwmon, else from ``xbutil
examine --report electrical thermal`` of that card (the tool reports one device per call);
whether an xclbin is loaded from ``xclbinuuid``. No utilization, and no "in use" (``fpga_usage``).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from typing import ClassVar

from oslo_log import log as logging

from cyborg_lite.drivers import base, common, hostdriver, pci, usage
from cyborg_lite.drivers.fpga_usage import parse_xbutil, read_hwmon
from cyborg_lite.drivers.fpga_xilinx_sources import XrtInfo, merge, parse_xbmgmt, read_sysfs
from cyborg_lite.drivers.host import ToolError

LOG = logging.getLogger(__name__)

VENDOR_ID = "10ee"

# xbmgmt prints "[FAILED]" lines and "Failed to update base" while still exiting 0 in some
# releases; and says so when the card already runs the image.
_FAILED_RE = re.compile(r"\[FAILED\]|failed to update", re.IGNORECASE)
_NOOP_RE = re.compile(r"up[- ]to[- ]date|already (?:programmed|running|installed)", re.IGNORECASE)


def claims(dev: pci.PciDevice, device_ids: list[str]) -> bool:
    """Whether ``dev`` is the management function of an Alveo card."""
    if dev.vendor_id != VENDOR_ID or dev.is_vf:
        return False
    return dev.driver == "xclmgmt" or dev.device_id in {i.lower() for i in device_ids}


def user_function(bus: pci.PciBus, mgmt: pci.PciDevice) -> pci.PciDevice | None:
    """The user function of a card: the next function of the same slot, same vendor."""
    a = pci.parse_address(mgmt.address)
    user = bus.get(str(pci.PciAddress(a.domain, a.bus, a.device, a.function + 1)))
    return user if user is not None and user.vendor_id == VENDOR_ID else None


class XilinxFpgaDriver(hostdriver.HostDriver):
    """Alveo cards on XRT; see the module docstring."""

    name: ClassVar[str] = "fpga_xilinx"

    def _examine(self, address: str) -> XrtInfo | None:
        opts = self.conf.fpga_xilinx
        with tempfile.TemporaryDirectory(prefix="cyborg-lite-xbmgmt-") as tmp:
            report = os.path.join(tmp, "platform.json")
            argv = [opts.xbmgmt, "examine", "--device", address, "--report", "platform"]
            argv += ["--format", "JSON", "--output", report]
            try:
                result = self.runner.run(argv, timeout=opts.command_timeout)
                # Releases that ignore --output print the report instead.
                text = result.stdout
                if os.path.exists(report):
                    with open(report, encoding="utf-8", errors="replace") as f:
                        text = f.read()
                return parse_xbmgmt(text).get(address)
            except ToolError as err:
                self.errors.append(str(err))
                return None

    def discover(self) -> list[base.Device]:
        """Every Alveo card, with its shell, SC and xclbin versions."""
        self.errors = []
        bus = pci.PciBus(self.reader)
        ids = self.conf.fpga_xilinx.device_ids
        devices = []
        for mgmt in (d for d in bus.devices() if claims(d, ids)):
            user = user_function(bus, mgmt)
            sysfs = read_sysfs(self.reader, mgmt, user)
            tool = self._examine(mgmt.address)
            info = merge(tool, sysfs) if tool is not None else sysfs
            devices.append(self._device(mgmt, user, info))
        for message in self.errors:
            LOG.info("fpga_xilinx: source skipped: %s", message)
        return devices

    def sample(
        self, devices: Sequence[base.Device], *, allocated: frozenset[str] = frozenset()
    ) -> list[base.Sample]:
        """Each card's power, temperature and whether an xclbin is loaded."""
        errors: list[str] = []
        bus = pci.PciBus(self.reader)
        samples = []
        for device in devices:
            mgmt = bus.get(device.pci_address or "")
            user = user_function(bus, mgmt) if mgmt is not None else None
            if mgmt is None or user is None:
                samples.append(usage.sample(device.stable_id, None))
                continue
            figures = read_hwmon(self.reader, user.sysfs_dir)
            if figures.missing("power_watts", "temperature_celsius"):
                figures = usage.fill(figures, self._xbutil(user.address, errors))
            loaded = read_sysfs(self.reader, mgmt, user).xclbin_uuid is not None
            samples.append(usage.sample(device.stable_id, figures, function_loaded=loaded))
        self.errors = errors
        for message in errors:
            LOG.info("fpga_xilinx: usage source skipped: %s", message)
        return samples

    def _xbutil(self, user: str, errors: list[str]) -> usage.Figures | None:
        opts = self.conf.fpga_xilinx
        with tempfile.TemporaryDirectory(prefix="cyborg-lite-xbutil-") as tmp:
            report = os.path.join(tmp, "usage.json")
            argv = [opts.xbutil, "examine", "--device", user, "--report", "electrical"]
            argv += ["thermal", "--format", "JSON", "--output", report]
            try:
                text = self.runner.run(argv, timeout=opts.command_timeout).stdout
                if os.path.exists(report):
                    with open(report, encoding="utf-8", errors="replace") as f:
                        text = f.read()
                return parse_xbutil(text).get(user)
            except ToolError as err:
                errors.append(str(err))
                return None

    def _device(
        self, mgmt: pci.PciDevice, user: pci.PciDevice | None, info: XrtInfo
    ) -> base.Device:
        pid = mgmt.device_id.upper()
        traits = (common.OWNER_TRAIT, "CUSTOM_FPGA_XILINX", common.trait("FPGA_PRODUCT_ID", pid))
        attach = user.address if user is not None else mgmt.address
        attributes = {"mgmt_address": mgmt.address}
        if info.xclbin_uuid:
            attributes["xclbin_uuid"] = info.xclbin_uuid
        vendor_info = {"source": info.source}
        for key, value in (
            ("serial", info.serial),
            ("shell_id", info.shell_id),
            ("logic_uuid", info.logic_uuid),
            ("interface_uuid", info.interface_uuid),
            ("golden", None if info.golden is None else str(info.golden).lower()),
        ):
            if value is not None:
                vendor_info[key] = value
        if user is not None:
            vendor_info["user_address"] = user.address
        return base.Device(
            stable_id=info.serial or mgmt.address,
            type="FPGA",
            vendor=VENDOR_ID,
            model=info.board or f"Alveo {pid}",
            driver=self.name,
            pci_address=mgmt.address,
            std_board_info=pci.board_info(mgmt),
            vendor_board_info=vendor_info,
            numa_node=mgmt.numa_node,
            deployables=(
                base.Deployable(
                    name=common.device_name(mgmt.address),
                    resource_class="FPGA",
                    traits=traits,
                    attach_handles=(base.AttachHandle("PCI", attach),),
                    attributes=attributes,
                ),
            ),
            firmware=self._firmware(info, user),
        )

    def _firmware(
        self, info: XrtInfo, user: pci.PciDevice | None
    ) -> tuple[base.FirmwareComponent, ...]:
        opts = self.conf.fpga_xilinx
        found = []
        if info.shell:
            found.append(
                base.FirmwareComponent(
                    "fpga_shell", info.shell, bool(opts.base_flash_command), "power_cycle"
                )
            )
        if info.sc_version:
            pending = info.sc_expected if info.sc_expected != info.sc_version else None
            found.append(
                base.FirmwareComponent("fpga_sc", info.sc_version, False, "power_cycle", pending)
            )
        if user is not None:
            found.append(
                base.FirmwareComponent(
                    "bitstream", info.xclbin_uuid or "none", bool(opts.xclbin_command), "live"
                )
            )
        return tuple(found)

    def _flash_command(
        self, device: base.Device, component: str
    ) -> hostdriver.FlashCommand | base.FlashResult:
        """``xbmgmt program --base`` for fpga_shell, ``xbutil program`` for a bitstream."""
        opts = self.conf.fpga_xilinx
        if component == "bitstream":
            template, option, activation = opts.xclbin_command, "xclbin_command", "live"
            target = device.vendor_board_info.get("user_address")
        else:
            template, option = opts.base_flash_command, "base_flash_command"
            activation, target = "power_cycle", None
        return hostdriver.FlashCommand(
            template,
            f"[fpga_xilinx] {option}",
            activation,
            target_address=target,
            noop_pattern=_NOOP_RE,
            failure_pattern=_FAILED_RE,
        )
