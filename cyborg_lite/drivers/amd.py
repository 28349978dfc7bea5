"""The AMD GPU driver: PCI sysfs for the list, then amdsmi, amd-smi, rocm-smi, amdgpu sysfs.

Instinct accelerators present class 0x0380 or 0x1200 rather than VGA, so all four classes are
claimed (Cyborg's GPU driver missed them). The first source that works wins; amdgpu sysfs fills
what it left unknown. The whole GPU is a ``PGPU`` deployable; enabled SR-IOV VFs (MxGPU) are
``VGPU`` deployables instead. amd-smi and rocm-smi cannot flash; a configured vendor command
(``[amd] flash_command``) writes the VBIOS/IFWI.

Usage (``sample``): amdsmi, else one ``amd-smi metric`` (and ``amd-smi list``) for every GPU,
with amdgpu sysfs filling what they left unknown (``amd_usage``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Unpack

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite.drivers import base, common, hostdriver, pci, usage
from cyborg_lite.drivers.amd_sources import (
    AmdInfo,
    load_amdsmi,
    merge,
    parse_amd_smi,
    parse_rocm_smi,
    read_amdsmi,
    read_sysfs,
)
from cyborg_lite.drivers.amd_usage import (
    METRIC_ARGS,
    parse_list,
    parse_metric,
    read_amdsmi_usage,
    read_sysfs_usage,
)
from cyborg_lite.drivers.host import ToolError

LOG = logging.getLogger(__name__)

VENDOR_ID = "1002"
GPU_CLASSES = (0x0300, 0x0302, 0x0380, 0x1200)

# How each read-only firmware block becomes active when it changes.
_FW_ACTIVATION = {"smc": "reset", "psp_sos": "reset", "pldm_bundle": "power_cycle"}

ROCM_SMI_ARGS = (
    "--showproductname",
    "--showvbios",
    "--showbus",
    "--showserial",
    "--showuniqueid",
    "--json",
)


def claims(dev: pci.PciDevice) -> bool:
    """Whether this driver reports the PCI function as a GPU (HD audio and VFs are not)."""
    return dev.vendor_id == VENDOR_ID and dev.class_code in GPU_CLASSES and not dev.is_vf


class AmdDriver(hostdriver.HostDriver):
    """AMD GPUs and Instinct accelerators; see the module docstring."""

    name: ClassVar[str] = "amd"

    def __init__(
        self, conf: cfg.ConfigOpts, *, amdsmi: Any = None, **host: Unpack[hostdriver.HostAccess]
    ) -> None:
        super().__init__(conf, **host)
        # None: import the real module lazily (and at most once), only if enabled.
        self._amdsmi = amdsmi

    def _enrich(self) -> dict[str, AmdInfo]:
        opts = self.conf.amd
        self.errors = []
        if opts.use_amdsmi:
            lib = self._amdsmi if self._amdsmi is not None else load_amdsmi()
            if lib is None:
                self.errors.append("amdsmi: cannot be imported (no ROCm library)")
            else:
                try:
                    return read_amdsmi(lib)
                except Exception as err:  # the library's own exception family, or ctypes errors
                    self.errors.append(f"amdsmi: {type(err).__name__}: {err}")
        timeout = opts.command_timeout
        try:
            static = self.runner.run([opts.amd_smi, "static", "--json"], timeout=timeout).stdout
            try:
                fw: str | None = self.runner.run(
                    [opts.amd_smi, "firmware", "--json"], timeout=timeout
                ).stdout
            except ToolError as err:
                self.errors.append(str(err))
                fw = None
            return parse_amd_smi(static, fw)
        except ToolError as err:
            self.errors.append(str(err))
        try:
            result = self.runner.run([opts.rocm_smi, *ROCM_SMI_ARGS], timeout=timeout)
            return parse_rocm_smi(result.stdout)
        except ToolError as err:
            self.errors.append(str(err))
        return {}

    def discover(self) -> list[base.Device]:
        """Every AMD GPU on the host, with VBIOS and firmware versions."""
        gpus = {d.address: d for d in pci.PciBus(self.reader).devices() if claims(d)}
        info = self._enrich()
        for message in self.errors:
            LOG.info("amd: source skipped: %s", message)
        devices = []
        for address in sorted(set(gpus) | set(info)):
            dev = gpus.get(address)
            sysfs = read_sysfs(self.reader, dev) if dev is not None else None
            found = info.get(address)
            merged = merge(found, sysfs) if found is not None else sysfs
            devices.append(self._device(address, dev, merged))
        return devices

    def sample(
        self, devices: Sequence[base.Device], *, allocated: frozenset[str] = frozenset()
    ) -> list[base.Sample]:
        """Each GPU's reading: the first source that works, sysfs filling its gaps."""
        errors: list[str] = []
        found = self._usage(errors) if devices else {}
        self.errors = errors
        for message in errors:
            LOG.info("amd: usage source skipped: %s", message)
        bus = pci.PciBus(self.reader)
        samples = []
        for device in devices:
            address = device.pci_address or ""
            dev = bus.get(address)
            sysfs = read_sysfs_usage(self.reader, dev.sysfs_dir) if dev is not None else None
            samples.append(usage.sample(device.stable_id, usage.fill(found.get(address), sysfs)))
        return samples

    def _usage(self, errors: list[str]) -> dict[str, usage.Figures]:
        opts = self.conf.amd
        if opts.use_amdsmi:
            lib = self._amdsmi if self._amdsmi is not None else load_amdsmi()
            if lib is None:
                errors.append("amdsmi: cannot be imported (no ROCm library)")
            else:
                try:
                    return read_amdsmi_usage(lib)
                except Exception as err:  # the library's own exception family, or ctypes errors
                    errors.append(f"amdsmi: {type(err).__name__}: {err}")
        try:
            timeout = opts.command_timeout
            metric = self.runner.run([opts.amd_smi, *METRIC_ARGS], timeout=timeout).stdout
            listing = self.runner.run([opts.amd_smi, "list", "--json"], timeout=timeout).stdout
            return parse_metric(metric, parse_list(listing))
        except ToolError as err:
            errors.append(str(err))
        return {}

    def _device(self, address: str, dev: pci.PciDevice | None, gpu: AmdInfo | None) -> base.Device:
        product = (dev.device_id if dev else None) or (gpu.device_id if gpu else None) or "0000"
        pid = product.upper()
        traits = (common.OWNER_TRAIT, common.trait("AMD", pid))
        name = common.device_name(address)
        vendor_info = {"source": gpu.source if gpu else "sysfs"}
        if gpu is not None:
            for key, value in (
                ("serial", gpu.serial),
                ("unique_id", gpu.unique_id),
                ("vbios_part_number", gpu.vbios_part_number),
                ("memory_bytes", gpu.memory_bytes),
                ("driver_version", gpu.driver_version),
            ):
                if value is not None:
                    vendor_info[key] = str(value)
        if dev is not None and dev.virtfns:
            deployables = common.vf_deployables(dev, name, "VGPU", traits)
        else:
            deployables = (
                base.Deployable(
                    name=name,
                    resource_class="PGPU",
                    traits=traits,
                    attach_handles=(base.AttachHandle("PCI", address),),
                ),
            )
        return base.Device(
            stable_id=(gpu.unique_id or gpu.serial or address) if gpu else address,
            type="GPU",
            vendor=VENDOR_ID,
            model=(gpu.name if gpu and gpu.name else f"AMD GPU {product}"),
            driver=self.name,
            pci_address=address,
            std_board_info=pci.board_info(dev)
            if dev
            else {"vendor_id": VENDOR_ID, "product_id": product},
            vendor_board_info=vendor_info,
            numa_node=dev.numa_node if dev else None,
            deployables=deployables,
            firmware=self._firmware(gpu),
        )

    def _firmware(self, gpu: AmdInfo | None) -> tuple[base.FirmwareComponent, ...]:
        if gpu is None:
            return ()
        found = []
        if gpu.vbios:
            found.append(
                base.FirmwareComponent(
                    "vbios",
                    gpu.vbios,
                    bool(self.conf.amd.flash_command),
                    self.conf.amd.flash_activation,
                )
            )
        for component, version in gpu.firmware:
            found.append(
                base.FirmwareComponent(
                    component, version, False, _FW_ACTIVATION.get(component, "reset")
                )
            )
        return tuple(found)

    def _flash_command(
        self, device: base.Device, component: str
    ) -> hostdriver.FlashCommand | base.FlashResult:
        """Flash the VBIOS with ``[amd] flash_command``; active per ``[amd] flash_activation``."""
        return hostdriver.FlashCommand(
            self.conf.amd.flash_command,
            "[amd] flash_command",
            activation=self.conf.amd.flash_activation,
        )
