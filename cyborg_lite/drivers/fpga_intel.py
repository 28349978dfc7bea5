"""The Intel FPGA driver: PAC Arria10, PAC N3000, D5005 and OFS N6000-family cards.

Cards are matched by PCI id (a bitstream may present any class code). Versions come from DFL
sysfs (FIM bitstream id, PR interface id, loaded AFU), with ``fpgainfo fme`` adding the BMC
firmware version (preferred to the raw ``bmcfw_version`` register in sysfs) and whatever sysfs
lacks. Three firmware components:

- ``fpga_shell`` (the FIM, static region): ``fpgasupdate``; active after a ``reboot`` (RSU).
- ``fpga_bmc`` (the MAX10 BMC firmware): ``fpgasupdate``; active after a ``power_cycle``.
- ``bitstream`` (the AFU in the PR region): ``fpgaconf``; ``live``.

Each card is one ``FPGA`` deployable (one per VF when SR-IOV is enabled, a port per VF). A card
named in ``[fpga_intel] physical_networks`` serves Neutron ``accelerator-direct`` ports: its
attach handles carry ``physical_network``, which Nova reads from the port's ARQ.

Usage (``sample``): power and temperature from the DFL hwmon devices below the card, else from
one ``fpgainfo power`` and one ``fpgainfo temp`` for every card; whether an AFU is loaded from
the port's ``afu_id``. There is no utilization counter, and no tool says whether the AFU is in
use: both stay unknown (``fpga_usage``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from oslo_log import log as logging

from cyborg_lite.drivers import base, common, hostdriver, pci, usage
from cyborg_lite.drivers.fpga_intel_sources import (
    FpgaInfo,
    merge,
    norm_uuid,
    parse_fpgainfo,
    read_sysfs,
)
from cyborg_lite.drivers.fpga_usage import fpgainfo_figures, parse_fpgainfo_metrics, read_hwmon
from cyborg_lite.drivers.host import ToolError

LOG = logging.getLogger(__name__)

VENDOR_ID = "8086"

# (device id, subsystem device id or None) -> product name; the trait is derived from it.
PRODUCTS = {
    ("09c4", None): "PAC Arria10",
    ("0b30", None): "PAC N3000",
    ("0b2b", None): "D5005",
    ("bcce", "1770"): "N6000",
    ("bcce", "1771"): "N6001",
    ("bcce", "17d4"): "F2000X",
    ("bcce", None): "OFS",
}

# Which tool writes each component, and how its new version becomes active.
COMPONENTS = {
    "fpga_shell": ("fpgasupdate_command", "reboot"),
    "fpga_bmc": ("fpgasupdate_command", "power_cycle"),
    "bitstream": ("fpgaconf_command", "live"),
}


def product_name(dev: pci.PciDevice) -> str:
    """The card's product name from its device and subsystem ids."""
    return PRODUCTS.get(
        (dev.device_id, dev.subsystem_device_id),
        PRODUCTS.get((dev.device_id, None), f"FPGA {dev.device_id}"),
    )


def parse_physical_networks(items: list[str]) -> dict[str, str]:
    """``["0000:5e:00.0=physnet1", ...]`` as ``{address: physnet}``.

    ValueError names the first bad item: an address not in canonical form (it is compared
    with sysfs's, so another spelling would silently match nothing), an invalid name, or an
    address given two different networks.
    """
    where = "[fpga_intel] physical_networks"
    found: dict[str, str] = {}
    for item in items:
        address, sep, physnet = item.strip().partition("=")
        address, physnet = address.strip(), physnet.strip()
        if not sep:
            raise ValueError(f"{where}: {item!r} is not PCI_ADDRESS=PHYSNET")
        if not pci.is_canonical(address):
            hint = pci.try_normalize(address)
            raise ValueError(
                f"{where}: {item!r}: {address!r} is not a canonical PCI address (dddd:bb:dd.f"
                + (f", here {hint}" if hint else "")
                + ")"
            )
        common.check_physnet(physnet, f"{where}: {item!r}")
        if found.setdefault(address, physnet) != physnet:
            raise ValueError(f"{where}: {item!r}: {address} already has {found[address]!r}")
    return found


def claims(dev: pci.PciDevice, device_ids: list[str]) -> bool:
    """Whether ``dev`` is the physical function of a managed Intel FPGA card."""
    return (
        dev.vendor_id == VENDOR_ID
        and dev.device_id in {i.lower() for i in device_ids}
        and not dev.is_vf
    )


class IntelFpgaDriver(hostdriver.HostDriver):
    """Intel FPGA cards on DFL; see the module docstring."""

    name: ClassVar[str] = "fpga_intel"

    def _fpgainfo(self) -> dict[str, FpgaInfo]:
        opts = self.conf.fpga_intel
        try:
            result = self.runner.run([opts.fpgainfo, "fme"], timeout=opts.command_timeout)
            return parse_fpgainfo(result.stdout)
        except ToolError as err:
            self.errors.append(str(err))
            return {}

    def discover(self) -> list[base.Device]:
        """Every managed Intel FPGA card, with FIM, BMC and AFU versions."""
        self.errors = []
        # Parsed first, so a bad item is this driver's error even before a card is found;
        # raising keeps the conductor's last view of these cards rather than dropping the
        # network from handles an instance may be using.
        physnets = parse_physical_networks(list(self.conf.fpga_intel.physical_networks))
        ids = self.conf.fpga_intel.device_ids
        cards = [d for d in pci.PciBus(self.reader).devices() if claims(d, ids)]
        if not cards:
            # fpgainfo only ever adds to cards sysfs lists; no card, no need to run it.
            return []
        tool = self._fpgainfo()
        for message in self.errors:
            LOG.info("fpga_intel: source skipped: %s", message)
        return [
            self._device(
                dev,
                self._merge(read_sysfs(self.reader, dev), tool.get(dev.address)),
                "sysfs+fpgainfo" if dev.address in tool else "sysfs",
                physnets.get(dev.address),
            )
            for dev in cards
        ]

    def sample(
        self, devices: Sequence[base.Device], *, allocated: frozenset[str] = frozenset()
    ) -> list[base.Sample]:
        """Each card's power, temperature and whether an AFU is loaded; see the docstring."""
        errors: list[str] = []
        bus = pci.PciBus(self.reader)
        found: dict[str, tuple[usage.Figures, bool]] = {}
        for device in devices:
            dev = bus.get(device.pci_address or "")
            if dev is not None:
                loaded = read_sysfs(self.reader, dev).afu_id is not None
                found[dev.address] = (read_hwmon(self.reader, dev.sysfs_dir), loaded)
        power = temp = {}
        if any(f.power_watts is None for f, _ in found.values()):
            power = self._metrics("power", errors)
        if any(f.temperature_celsius is None for f, _ in found.values()):
            temp = self._metrics("temp", errors)
        self.errors = errors
        for message in errors:
            LOG.info("fpga_intel: usage source skipped: %s", message)
        samples = []
        for device in devices:
            address = device.pci_address or ""
            if address not in found:  # gone from the bus since discovery
                samples.append(usage.sample(device.stable_id, None))
                continue
            figures, loaded = found[address]
            tool = fpgainfo_figures(power.get(address), temp.get(address))
            samples.append(
                usage.sample(device.stable_id, usage.fill(figures, tool), function_loaded=loaded)
            )
        return samples

    def _metrics(self, command: str, errors: list[str]) -> dict[str, dict[str, tuple[float, str]]]:
        opts = self.conf.fpga_intel
        try:
            result = self.runner.run([opts.fpgainfo, command], timeout=opts.command_timeout)
            return parse_fpgainfo_metrics(result.stdout)
        except ToolError as err:
            errors.append(str(err))
            return {}

    @staticmethod
    def _merge(sysfs: FpgaInfo, tool: FpgaInfo | None) -> FpgaInfo:
        info = merge(sysfs, tool)
        if tool is not None and tool.bmc_version:
            # sysfs has only the raw register (0x...); fpgainfo's "3.15.0" is how the BMC
            # release, and so the catalog, names the version.
            info = dataclasses.replace(info, bmc_version=tool.bmc_version)
        return info

    def _device(
        self, dev: pci.PciDevice, info: FpgaInfo, source: str, physnet: str | None
    ) -> base.Device:
        product = product_name(dev)
        traits = [common.OWNER_TRAIT, "CUSTOM_FPGA_INTEL", common.trait("FPGA_INTEL", product)]
        if info.pr_interface_id:
            traits.append(common.trait("FPGA_REGION_INTEL", info.pr_interface_id))
        if info.afu_id:
            traits.append(common.trait("FPGA_FUNCTION_ID_INTEL", info.afu_id))
        attributes = {
            k: v
            for k, v in (("pr_interface_id", info.pr_interface_id), ("afu_id", info.afu_id))
            if v is not None
        }
        name = common.device_name(dev.address)
        if dev.virtfns:
            deployables = common.vf_deployables(dev, name, "FPGA", traits, attributes)
        else:
            deployables = (
                base.Deployable(
                    name=name,
                    resource_class="FPGA",
                    traits=tuple(traits),
                    attach_handles=(base.AttachHandle("PCI", dev.address),),
                    attributes=attributes,
                ),
            )
        if physnet is not None:
            deployables = _with_physnet(deployables, physnet)
        vendor_info = {"source": source}
        for key, value in (
            ("bitstream_version", info.bitstream_version),
            ("bmc_build", info.bmc_build),
            ("boot_page", info.boot_page),
        ):
            if value is not None:
                vendor_info[key] = value
        return base.Device(
            stable_id=dev.address,
            type="FPGA",
            vendor=VENDOR_ID,
            model=info.platform or f"Intel {product}",
            driver=self.name,
            pci_address=dev.address,
            std_board_info=pci.board_info(dev),
            vendor_board_info=vendor_info,
            numa_node=dev.numa_node,
            deployables=deployables,
            firmware=self._firmware(info),
        )

    def _firmware(self, info: FpgaInfo) -> tuple[base.FirmwareComponent, ...]:
        opts = self.conf.fpga_intel
        versions = {
            "fpga_shell": info.bitstream_id,
            "fpga_bmc": info.bmc_version,
            # An empty port still has a PR region to load into.
            "bitstream": info.afu_id or "none",
        }
        return tuple(
            base.FirmwareComponent(component, version, bool(getattr(opts, option)), activation)
            for component, (option, activation) in COMPONENTS.items()
            if (version := versions[component]) is not None
        )

    def _flash_command(
        self, device: base.Device, component: str
    ) -> hostdriver.FlashCommand | base.FlashResult:
        """``fpgasupdate`` for fpga_shell/fpga_bmc (staged), ``fpgaconf`` for a bitstream."""
        if component not in COMPONENTS:
            return base.FlashResult(
                ok=False, error_code="unsupported", message=f"no such component {component!r}"
            )
        option, activation = COMPONENTS[component]
        return hostdriver.FlashCommand(
            getattr(self.conf.fpga_intel, option), f"[fpga_intel] {option}", activation
        )

    def _expected_version(self, component: str, expected_version: str) -> str:
        """AFU ids are compared in canonical UUID form, however the catalog spells them."""
        if component == "bitstream":
            return norm_uuid(expected_version) or expected_version
        return expected_version


def _with_physnet(
    deployables: tuple[base.Deployable, ...], physnet: str
) -> tuple[base.Deployable, ...]:
    """``deployables`` with ``physical_network`` on every attach handle: with SR-IOV each VF is
    a port of the card, so each reaches the card's network."""
    return tuple(
        dataclasses.replace(
            d,
            attach_handles=tuple(
                dataclasses.replace(h, extra={**h.extra, "physical_network": physnet})
                for h in d.attach_handles
            ),
        )
        for d in deployables
    )
