"""The base of the drivers that read a real host: nvidia, amd, fpga_intel, fpga_xilinx, opencl.

Each reaches the host only through an injected ``SysfsReader`` (PCI sysfs) and
``CommandRunner`` (vendor tools), so tests hand it fixtures and fake tools; each keeps why the
sources it skipped were skipped in ``errors``; and each flashes by running one configured
vendor command through ``common.flash_with_command``, then re-discovering the device by its
PCI address to settle the result. A driver only says which command flashes a component
(``_flash_command``) and, where it spells versions differently from the catalog, how
(``_expected_version``).
"""

from __future__ import annotations

import abc
import dataclasses
import re
from collections.abc import Sequence
from typing import TypedDict

from oslo_config import cfg

from cyborg_lite.drivers import base, common
from cyborg_lite.drivers.host import CommandRunner, SysfsReader


class HostAccess(TypedDict, total=False):
    """The injected host access, as keyword arguments (``**host: Unpack[HostAccess]``)."""

    reader: SysfsReader | None
    runner: CommandRunner | None


@dataclasses.dataclass(frozen=True)
class FlashCommand:
    """The configured command that flashes one component, and how to read what it did."""

    template: Sequence[str]
    # The config option holding ``template``, named when it is unset: "[nvidia] flash_command".
    option: str
    # How the new version becomes active (one of ``base.ACTIVATIONS``).
    activation: str
    # The function the tool is pointed at when not the device's own (the Xilinx user PF).
    target_address: str | None = None
    # Output saying the image was already there, and output that is a failure despite exit 0.
    noop_pattern: re.Pattern[str] | None = None
    failure_pattern: re.Pattern[str] | None = None


class HostDriver(base.Driver):
    """A driver that discovers through ``reader``/``runner`` and flashes with a vendor command."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        *,
        reader: SysfsReader | None = None,
        runner: CommandRunner | None = None,
    ) -> None:
        super().__init__(conf)
        self.reader = reader or SysfsReader(conf.agent.sysfs_root)
        self.runner = runner or CommandRunner()
        #: Why each source that was tried and skipped was skipped (last discovery); stays empty
        #: for a driver with a single source.
        self.errors: list[str] = []

    def _find(self, address: str) -> base.Device | None:
        """The device at ``address`` as a fresh discovery reports it, if it is still there."""
        return next((d for d in self.discover() if d.pci_address == address), None)

    @abc.abstractmethod
    def _flash_command(
        self, device: base.Device, component: str
    ) -> FlashCommand | base.FlashResult:
        """The command that flashes ``component`` of ``device``, or the refusal, unrun."""

    def _expected_version(self, component: str, expected_version: str) -> str:
        """The catalog's version as discovery spells it, to compare after the flash."""
        return expected_version

    def flash(
        self,
        device: base.Device,
        component: str,
        image_path: str,
        timeout: float,
        *,
        expected_version: str | None = None,
    ) -> base.FlashResult:
        """Run the driver's ``_flash_command``; the device is re-read by address afterwards."""
        command = self._flash_command(device, component)
        if isinstance(command, base.FlashResult):
            return command
        if expected_version is not None:
            expected_version = self._expected_version(component, expected_version)
        address = device.pci_address or ""
        return common.flash_with_command(
            runner=self.runner,
            template=command.template,
            option=command.option,
            device=device,
            component=component,
            image_path=image_path,
            timeout=timeout,
            activation=command.activation,
            reread=lambda: self._find(address),
            expected_version=expected_version,
            target_address=command.target_address,
            noop_pattern=command.noop_pattern,
            failure_pattern=command.failure_pattern,
        )
