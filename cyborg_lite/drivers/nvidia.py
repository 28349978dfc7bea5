"""The NVIDIA GPU driver: PCI sysfs for the device list, then NVML, nvidia-smi or procfs.

Ladder: NVML (nvidia-ml-py) first; if its library or kernel module is missing, ``nvidia-smi -q
-x``; if that is missing or fails, ``/proc/driver/nvidia``; PCI sysfs always gives the list, so a
GPU bound to vfio-pci (invisible to NVML) is still reported. Deployables, in order of precedence:
mdev vGPU types (``VGPU``), enabled SR-IOV VFs (``VGPU``), MIG instances when MIG is on (``VGPU``,
attach type ``MIG``), else the whole GPU (``PGPU``). MIG is only read, never changed.

Usage (``sample``): NVML, else ``nvidia-smi``'s CSV queries (``nvidia_usage``), one sample per GPU
and one per MIG instance deployable; nothing is sampled from procfs or sysfs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar, Unpack

import pynvml
from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite.drivers import base, common, hostdriver, pci, usage
from cyborg_lite.drivers.host import ToolError
from cyborg_lite.drivers.nvidia_sources import GpuInfo, parse_smi_xml, read_nvml, read_proc
from cyborg_lite.drivers.nvidia_usage import (
    CSV_FORMAT,
    QUERY_APPS,
    QUERY_GPU,
    GpuUsage,
    MigKey,
    parse_mig_usage,
    parse_query_apps,
    parse_query_gpu,
    read_nvml_usage,
)

LOG = logging.getLogger(__name__)

VENDOR_ID = "10de"
# VGA (GeForce/RTX) and 3D controller (data-centre parts); NVSwitch and HD audio are not GPUs.
GPU_CLASSES = (0x0300, 0x0302)


def claims(dev: pci.PciDevice) -> bool:
    """Whether this driver reports the PCI function as a GPU (VFs belong to their PF)."""
    return dev.vendor_id == VENDOR_ID and dev.class_code in GPU_CLASSES and not dev.is_vf


def _vgpu_trait_name(name: str) -> str:
    # "GRID T4-1Q" -> "T4_1Q", as Cyborg's CUSTOM_NVIDIA_<PID>_<VGPU_NAME> traits read.
    for prefix in ("GRID ", "NVIDIA "):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


class NvidiaDriver(hostdriver.HostDriver):
    """NVIDIA GPUs; see the module docstring for the sources and the deployable rules."""

    name: ClassVar[str] = "nvidia"

    def __init__(
        self, conf: cfg.ConfigOpts, *, nvml: Any = None, **host: Unpack[hostdriver.HostAccess]
    ) -> None:
        super().__init__(conf, **host)
        self.nvml = nvml if nvml is not None else pynvml

    def _enrich(self) -> dict[str, GpuInfo]:
        opts = self.conf.nvidia
        self.errors = []
        if opts.use_nvml:
            try:
                return read_nvml(self.nvml)
            except pynvml.NVMLError as err:
                # LibraryNotFound (no driver package), DriverNotLoaded, ...: next source.
                self.errors.append(f"nvml: {type(err).__name__}: {err}")
        try:
            result = self.runner.run([opts.nvidia_smi, "-q", "-x"], timeout=opts.command_timeout)
            return parse_smi_xml(result.stdout)
        except ToolError as err:
            self.errors.append(str(err))
        return read_proc(self.reader)

    def discover(self) -> list[base.Device]:
        """Every NVIDIA GPU on the host, with firmware versions and deployables."""
        gpus = {d.address: d for d in pci.PciBus(self.reader).devices() if claims(d)}
        info = self._enrich()
        for message in self.errors:
            LOG.info("nvidia: source skipped: %s", message)
        return [
            self._device(address, gpus.get(address), info.get(address))
            for address in sorted(set(gpus) | set(info))
        ]

    # --- usage ----------------------------------------------------------------------------

    def sample(
        self, devices: Sequence[base.Device], *, allocated: frozenset[str] = frozenset()
    ) -> list[base.Sample]:
        """Each GPU's reading, then one per MIG instance (``nvidia_usage`` has the sources)."""
        errors: list[str] = []
        found = self._usage(devices, errors)
        self.errors = errors
        for message in errors:
            LOG.info("nvidia: usage source skipped: %s", message)
        samples = []
        for device in devices:
            gpu = found.get(device.pci_address or "")
            samples.append(usage.sample(device.stable_id, gpu.figures if gpu else None))
            for name, key in _mig_deployables(device):
                mig = gpu.mig.get(key) if gpu else None
                samples.append(usage.sample(device.stable_id, mig, name))
        return samples

    def _usage(self, devices: Sequence[base.Device], errors: list[str]) -> dict[str, GpuUsage]:
        opts = self.conf.nvidia
        if opts.use_nvml:
            try:
                return read_nvml_usage(self.nvml)
            except pynvml.NVMLError as err:
                errors.append(f"nvml: {type(err).__name__}: {err}")
        smi, timeout = opts.nvidia_smi, opts.command_timeout
        try:
            text = self.runner.run(
                [smi, f"--query-gpu={','.join(QUERY_GPU)}", CSV_FORMAT], timeout=timeout
            ).stdout
            rows = parse_query_gpu(text)
        except ToolError as err:
            errors.append(str(err))
            return {}
        procs: dict[str, int] | None = None
        try:
            apps = [smi, f"--query-compute-apps={','.join(QUERY_APPS)}", CSV_FORMAT]
            procs = parse_query_apps(self.runner.run(apps, timeout=timeout).stdout)
        except ToolError as err:
            errors.append(str(err))
        migs: dict[str, dict[MigKey, usage.Figures]] = {}
        if any(_mig_deployables(d) for d in devices):
            # The CSV has no MIG rows; one full query has every instance's memory and processes.
            try:
                migs = parse_mig_usage(self.runner.run([smi, "-q", "-x"], timeout=timeout).stdout)
            except ToolError as err:
                errors.append(str(err))
        found = {}
        for address, (uuid, figures) in rows.items():
            # A GPU absent from the process list runs none; unknown only if the list failed.
            count = procs.get(uuid, 0) if procs is not None and uuid else None
            found[address] = GpuUsage(
                dataclasses.replace(figures, processes=count), migs.get(address, {})
            )
        return found

    def _device(self, address: str, dev: pci.PciDevice | None, gpu: GpuInfo | None) -> base.Device:
        product = (dev.device_id if dev else None) or (gpu.device_id if gpu else None) or "0000"
        pid = product.upper()
        traits = (common.OWNER_TRAIT, common.trait("NVIDIA", pid))
        name = common.device_name(address)
        vendor_info = {"source": gpu.source if gpu else "sysfs"}
        if gpu is not None:
            for key, value in (
                ("uuid", gpu.uuid),
                ("serial", gpu.serial),
                ("part_number", gpu.part_number),
                ("memory_bytes", gpu.memory_bytes),
                ("driver_version", gpu.driver_version),
                ("virtualization_mode", gpu.virtualization_mode),
            ):
                if value is not None:
                    vendor_info[key] = str(value)
            if gpu.mig_enabled is not None:
                vendor_info["mig_mode"] = "enabled" if gpu.mig_enabled else "disabled"
            if gpu.mig_pending is not None and gpu.mig_pending != gpu.mig_enabled:
                vendor_info["mig_mode_pending"] = "enabled" if gpu.mig_pending else "disabled"
            if gpu.excluded:
                vendor_info["excluded"] = "yes"
        return base.Device(
            stable_id=(gpu.uuid if gpu and gpu.uuid else address),
            type="GPU",
            vendor=VENDOR_ID,
            model=(gpu.name if gpu and gpu.name else f"NVIDIA GPU {product}"),
            driver=self.name,
            pci_address=address,
            std_board_info=pci.board_info(dev)
            if dev
            else {"vendor_id": VENDOR_ID, "product_id": product},
            vendor_board_info=vendor_info,
            numa_node=dev.numa_node if dev else None,
            deployables=self._deployables(name, address, pid, traits, dev, gpu),
            firmware=self._firmware(gpu),
        )

    def _deployables(
        self,
        name: str,
        address: str,
        pid: str,
        traits: tuple[str, ...],
        dev: pci.PciDevice | None,
        gpu: GpuInfo | None,
    ) -> tuple[base.Deployable, ...]:
        vgpus = self._mdev_types(name, address, pid, traits, dev)
        if vgpus:
            return vgpus
        if dev is not None and dev.virtfns:
            return common.vf_deployables(dev, name, "VGPU", traits)
        if gpu is not None and gpu.mig_enabled and gpu.mig:
            return tuple(
                base.Deployable(
                    name=f"{name}_mig{m.gpu_instance_id}_{m.compute_instance_id}",
                    resource_class="VGPU",
                    traits=(*traits, common.trait("NVIDIA", pid, "MIG", m.profile or "")),
                    attach_handles=(
                        base.AttachHandle(
                            "MIG",
                            address,
                            {
                                k: str(v)
                                for k, v in (
                                    ("mig_uuid", m.uuid),
                                    ("gpu_instance_id", m.gpu_instance_id),
                                    ("compute_instance_id", m.compute_instance_id),
                                    ("profile", m.profile),
                                )
                                if v is not None
                            },
                        ),
                    ),
                )
                for m in gpu.mig
            )
        return (
            base.Deployable(
                name=name,
                resource_class="PGPU",
                traits=traits,
                attach_handles=(base.AttachHandle("PCI", address),),
            ),
        )

    def _mdev_types(
        self, name: str, address: str, pid: str, traits: tuple[str, ...], dev: pci.PciDevice | None
    ) -> tuple[base.Deployable, ...]:
        if dev is None:
            return ()
        base_dir = f"{dev.sysfs_dir}/mdev_supported_types"
        found = []
        for type_id in self.reader.listdir(base_dir):
            vgpu_name = self.reader.read(f"{base_dir}/{type_id}/name") or type_id
            available = self.reader.read(f"{base_dir}/{type_id}/available_instances") or ""
            # Placement refuses an inventory of 0; a type with no room is left out for now.
            if not available.isdigit() or int(available) == 0:
                continue
            found.append(
                base.Deployable(
                    name=f"{name}_{type_id}",
                    resource_class="VGPU",
                    traits=(*traits, common.trait("NVIDIA", pid, _vgpu_trait_name(vgpu_name))),
                    num_accelerators=int(available),
                    attach_handles=(base.AttachHandle("MDEV", address, {"asked_type": type_id}),),
                    attributes={"vgpu_type_name": vgpu_name},
                )
            )
        return tuple(found)

    def _firmware(self, gpu: GpuInfo | None) -> tuple[base.FirmwareComponent, ...]:
        if gpu is None:
            return ()
        can_flash = bool(self.conf.nvidia.flash_command)
        found = []
        if gpu.vbios:
            found.append(base.FirmwareComponent("vbios", gpu.vbios, can_flash, "reset"))
        if gpu.inforom:
            # Shipped inside the VBIOS bundle; not flashed on its own.
            found.append(base.FirmwareComponent("inforom", gpu.inforom, False, "reset"))
        if gpu.gsp:
            # Ships with the driver package; a driver reload (a reset of the GPU) loads it.
            found.append(base.FirmwareComponent("gsp", gpu.gsp, False, "reset"))
        return tuple(found)

    def _flash_command(
        self, device: base.Device, component: str
    ) -> hostdriver.FlashCommand | base.FlashResult:
        """Flash the VBIOS with ``[nvidia] flash_command``; active after a GPU reset."""
        if any(h.attach_type == "MIG" for d in device.deployables for h in d.attach_handles):
            return base.FlashResult(
                ok=False,
                error_code="busy",
                message=f"{device.pci_address} has MIG instances; they must be destroyed first",
            )
        return hostdriver.FlashCommand(
            self.conf.nvidia.flash_command, "[nvidia] flash_command", activation="reset"
        )


def _mig_deployables(device: base.Device) -> list[tuple[str, MigKey]]:
    """(deployable name, (GPU instance id, compute instance id)) of each MIG deployable."""
    found = []
    for dep in device.deployables:
        for handle in dep.attach_handles:
            gi, ci = handle.extra.get("gpu_instance_id"), handle.extra.get("compute_instance_id")
            if handle.attach_type == "MIG" and gi and ci and gi.isdigit() and ci.isdigit():
                found.append((dep.name, (int(gi), int(ci))))
    return found
