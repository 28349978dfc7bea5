"""The generic OpenCL driver: every OpenCL device no vendor driver reports.

Devices are enumerated through pyopencl (in a child process by default, see
``opencl_probe``). A device correlated to a PCI function that an enabled vendor driver claims
is left to that driver; a vendor GPU platform whose devices cannot be correlated is left to the
vendor driver as well, rather than reported twice.

Resource classes: a device with a PCI address is a generic PCI accelerator, ``CUSTOM_PCI`` with
Cyborg's ``CUSTOM_PCI_<VENDOR>`` / ``CUSTOM_PCI_PRODUCT_ID_<PID>`` traits and a PCI attach
handle, so profiles written for Cyborg's generic PCI devices match it. A device without one
(a CPU runtime, a simulator) cannot be given to an instance, so it gets ``CUSTOM_OPENCL`` and no
attach handle: it can never satisfy a profile meant for a passthrough device. CPU devices
(PoCL, which every test machine has) are left out unless ``[opencl] include_cpu_devices``.
OpenCL has no firmware, and no usage counters: a sample carries only the device's total
memory (``global_mem_size``, as discovery read it), every other figure unknown.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Unpack

from oslo_config import cfg

from cyborg_lite.drivers import (
    amd,
    base,
    common,
    fpga_intel,
    fpga_xilinx,
    hostdriver,
    nvidia,
    pci,
    usage,
)
from cyborg_lite.drivers.host import ToolError, ToolOutputError
from cyborg_lite.drivers.opencl_probe import probe

# CL_DEVICE_TYPE_* bits; pyopencl's to_string(2) says "ALL | CPU", so test bits.
CPU, GPU, ACCELERATOR, CUSTOM = 2, 4, 8, 16

# Platform vendors whose GPUs or accelerators a vendor driver reports.
_PLATFORM_OWNERS = (
    ("nvidia", "nvidia"),
    ("advanced micro devices", "amd"),
    ("amd", "amd"),
    ("xilinx", "fpga_xilinx"),
    ("altera", "fpga_intel"),
    ("intel(r) fpga", "fpga_intel"),
)

Backend = Callable[[], list[dict[str, Any]]]


def _type_name(bits: int, name: str) -> str:
    if bits & GPU:
        return "GPU"
    if bits & ACCELERATOR and "fpga" in name.lower():
        return "FPGA"
    # Accelerators, custom devices and (when included) CPUs: Cyborg has no CPU type.
    return "AICHIP"


class OpenClDriver(hostdriver.HostDriver):
    """Generic OpenCL devices; see the module docstring."""

    name: ClassVar[str] = "opencl"

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        *,
        backend: Backend | None = None,
        **host: Unpack[hostdriver.HostAccess],
    ) -> None:
        super().__init__(conf, **host)
        self.backend = backend or (
            self._subprocess_probe if conf.opencl.isolate else self._inprocess_probe
        )

    def _inprocess_probe(self) -> list[dict[str, Any]]:
        import pyopencl

        return probe(pyopencl)

    def _subprocess_probe(self) -> list[dict[str, Any]]:
        argv = [sys.executable, "-m", "cyborg_lite.drivers.opencl_probe"]
        try:
            result = self.runner.run(argv, timeout=self.conf.opencl.probe_timeout)
        except ToolError as err:
            # Name the probe, not the interpreter that ran it.
            raise type(err)("opencl_probe", str(err).partition(": ")[2], output=err.output) from err
        try:
            data = json.loads(result.stdout)
        except ValueError as err:
            raise ToolOutputError("opencl_probe", f"unparseable JSON: {err}") from err
        if not isinstance(data, list):
            raise ToolOutputError("opencl_probe", "expected a JSON list")
        return data

    def _claimed(self, dev: pci.PciDevice, bus: pci.PciBus) -> bool:
        enabled = set(self.conf.agent.enabled_drivers)
        if "nvidia" in enabled and nvidia.claims(dev):
            return True
        if "amd" in enabled and amd.claims(dev):
            return True
        if "fpga_intel" in enabled and fpga_intel.claims(dev, self.conf.fpga_intel.device_ids):
            return True
        if "fpga_xilinx" in enabled and dev.vendor_id == fpga_xilinx.VENDOR_ID:
            # The user function (fn 1) is part of the card the Xilinx driver reports.
            ids = self.conf.fpga_xilinx.device_ids
            a = pci.parse_address(dev.address)
            mgmt = bus.get(str(pci.PciAddress(a.domain, a.bus, a.device, a.function - 1)))
            return fpga_xilinx.claims(dev, ids) or (
                mgmt is not None and fpga_xilinx.claims(mgmt, ids)
            )
        return False

    def _resolve(self, rec: dict[str, Any], bus: pci.PciBus) -> str | None:
        loc = rec.get("pci")
        if not isinstance(loc, dict):
            return None
        try:
            found = pci.PciAddress(loc.get("domain"), loc["bus"], loc["device"], loc["function"])
        except (KeyError, TypeError):
            return None
        if found.domain is not None:
            return str(found)
        # Domain-less (AMD topology, older NVIDIA): take it only when exactly one function fits.
        hits = [a for a in bus.addresses() if a.endswith(":" + found.short)]
        return hits[0] if len(hits) == 1 else None

    def _owned_platform(self, rec: dict[str, Any]) -> bool:
        enabled = set(self.conf.agent.enabled_drivers)
        vendor = f"{rec.get('platform_vendor', '')} {rec.get('platform', '')}".lower()
        return any(key in vendor and owner in enabled for key, owner in _PLATFORM_OWNERS)

    def discover(self) -> list[base.Device]:
        """OpenCL devices not reported by a vendor driver (CPU devices only if configured)."""
        # A failing or hung probe raises (ToolError names it); the agent isolates drivers.
        records = self.backend()
        bus = pci.PciBus(self.reader)
        seen: set[tuple[str, str, str, str]] = set()
        devices = []
        for rec in records:
            bits = int(rec.get("type", 0))
            accelerator = bool(bits & (GPU | ACCELERATOR | CUSTOM))
            if not accelerator and not self.conf.opencl.include_cpu_devices:
                continue
            address = self._resolve(rec, bus)
            # The same ICD registered twice (OCL_ICD_VENDORS plus the bundled list) shows a
            # platform twice; its devices are one device.
            key = (
                str(rec.get("platform")),
                str(rec.get("platform_version")),
                str(rec.get("name")),
                address or str(rec.get("device_index")),
            )
            if key in seen:
                continue
            seen.add(key)
            dev = bus.get(address) if address else None
            if dev is not None and (dev.driver == "vfio-pci" or self._claimed(dev, bus)):
                continue
            if address is None and accelerator and self._owned_platform(rec):
                continue
            devices.append(self._device(rec, bits, address, dev))
        return devices

    def _device(
        self, rec: dict[str, Any], bits: int, address: str | None, dev: pci.PciDevice | None
    ) -> base.Device:
        name = str(rec.get("name") or "OpenCL device")
        kind = "cpu" if bits & CPU and not bits & (GPU | ACCELERATOR) else _type_name(bits, name)
        vendor_info = {
            k: str(rec[f])
            for k, f in (
                ("platform", "platform"),
                ("platform_version", "platform_version"),
                ("opencl_version", "version"),
                ("driver_version", "driver_version"),
                ("device_vendor", "vendor"),
                ("compute_units", "compute_units"),
                ("max_clock_mhz", "max_clock_mhz"),
            )
            if rec.get(f) not in (None, "")
        }
        vendor_info["device_type"] = kind.lower()
        # A CPU runtime derives its memory from the host's and it changes between runs;
        # reporting it would make every report look like a change.
        if kind != "cpu" and rec.get("global_mem_size"):
            vendor_info["memory_bytes"] = str(rec["global_mem_size"])
        traits = [common.OWNER_TRAIT, "CUSTOM_OPENCL"]
        if dev is not None:
            traits += [
                common.trait("PCI", dev.vendor_id),
                common.trait("PCI_PRODUCT_ID", dev.device_id),
            ]
            deployable = base.Deployable(
                name=f"opencl_{common.device_name(dev.address)}",
                resource_class="CUSTOM_PCI",
                traits=tuple(traits),
                attach_handles=(base.AttachHandle("PCI", dev.address),),
            )
        else:
            traits.append(common.trait("OPENCL", kind))
            deployable = base.Deployable(
                name=f"opencl_p{rec.get('platform_index', 0)}_d{rec.get('device_index', 0)}",
                resource_class="CUSTOM_OPENCL",
                traits=tuple(traits),
            )
        ident = re.sub(r"\s+", " ", f"{rec.get('platform')}:{name}:{rec.get('device_index')}")
        return base.Device(
            stable_id=dev.address if dev else f"opencl:{ident}",
            type="AICHIP" if kind == "cpu" else kind,
            # OpenCL vendor ids are not PCI ids (PoCL says 0x8086 on AMD CPUs): only sysfs's.
            vendor=dev.vendor_id if dev else "",
            model=name,
            driver=self.name,
            pci_address=address if dev else None,
            std_board_info=pci.board_info(dev) if dev else {},
            vendor_board_info=vendor_info,
            numa_node=dev.numa_node if dev else None,
            deployables=(deployable,),
            firmware=(),
        )

    def sample(
        self, devices: Sequence[base.Device], *, allocated: frozenset[str] = frozenset()
    ) -> list[base.Sample]:
        """Each device's total memory from discovery; OpenCL exposes no load (no probe runs)."""
        samples = []
        for device in devices:
            total = device.vendor_board_info.get("memory_bytes", "")
            figures = usage.Figures(memory_total_bytes=int(total) if total.isdigit() else None)
            samples.append(usage.sample(device.stable_id, figures))
        return samples

    def _flash_command(
        self, device: base.Device, component: str
    ) -> hostdriver.FlashCommand | base.FlashResult:
        """OpenCL has no firmware: always unsupported."""
        return base.FlashResult(
            ok=False,
            error_code="unsupported",
            message="OpenCL devices have no firmware the opencl driver can flash.",
        )
