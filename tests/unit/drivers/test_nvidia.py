"""The NVIDIA driver: the NVML -> nvidia-smi -> procfs -> sysfs ladder, deployables, flashing."""

from __future__ import annotations

import pynvml
import pytest

from cyborg_lite.drivers import base, nvidia
from cyborg_lite.drivers.host import SysfsReader, ToolOutputError
from cyborg_lite.drivers.nvidia_sources import parse_smi_xml, read_proc
from tests.unit.drivers.conftest import fixture_text
from tests.unit.drivers.fake_nvml import FakeNvml

H100 = "0000:3b:00.0"
A100 = "0000:07:00.0"

H100_NVML = {
    "bus_id": "00000000:3B:00.0",
    "pci_device_id": 0x233010DE,
    "name": "NVIDIA H100 80GB HBM3",
    "uuid": "GPU-11111111-2222-3333-4444-555555555555",
    "serial": "1650000000001",
    "part_number": "900-2G520-0000-000",
    "memory": 85899345920,
    "vbios": "96.00.5E.00.01",
    "inforom": "G520.0200.00.05",
    "gsp": "550.54.15",
    "mig_mode": (0, 0),
    "virt": 0,
}

A100_NVML = {
    "bus_id": "00000000:07:00.0",
    "pci_device_id": 0x20B010DE,
    "name": "NVIDIA A100-SXM4-40GB",
    "uuid": "GPU-aaaaaaaa-0000-0000-0000-000000000007",
    "serial": None,  # NotSupported
    "memory": 42949672960,
    "vbios": "92.00.45.00.03",
    "inforom": None,
    "mig_mode": (1, 1),
    "max_mig": 4,
    "mig_devices": [
        {
            "gi": 1,
            "ci": 0,
            "uuid": "MIG-0001",
            "name": "NVIDIA A100-SXM4-40GB MIG 3g.20gb",
            "memory": 20937965568,
        },
        None,
        {
            "gi": 13,
            "ci": 0,
            "uuid": "MIG-0013",
            "name": "NVIDIA A100-SXM4-40GB MIG 1g.5gb",
            "memory": 5100273664,
        },
    ],
}


def _gpu_host(host):
    host.pci(
        H100,
        "10de",
        "2330",
        "0x030200",
        subsystem_device="16c1",
        driver="nvidia",
        numa_node=0,
        iommu_group=30,
    )
    host.pci("0000:3b:00.1", "10de", "22a3", "0x040300", driver="snd_hda_intel")  # HD audio
    host.pci(A100, "10de", "20b0", "0x030200", driver="nvidia", numa_node=0)
    host.pci("0000:10:00.0", "10de", "22a3", "0x068000")  # NVSwitch: a bridge, not a GPU
    host.pci("0000:02:00.0", "1a03", "2000", "0x030000", driver="ast")  # BMC VGA


def test_nvml_inventory(conf, host):
    _gpu_host(host)
    nvml = FakeNvml([H100_NVML, A100_NVML])
    driver = nvidia.NvidiaDriver(conf, nvml=nvml)
    devices = driver.discover()
    assert [d.pci_address for d in devices] == [A100, H100]
    a100, h100 = devices
    assert h100 == base.Device(
        stable_id="GPU-11111111-2222-3333-4444-555555555555",
        type="GPU",
        vendor="10de",
        model="NVIDIA H100 80GB HBM3",
        driver="nvidia",
        pci_address=H100,
        std_board_info={
            "vendor_id": "10de",
            "product_id": "2330",
            "controller": "3D controller",
            "class_code": "0302",
            "subsystem_vendor_id": "10de",
            "subsystem_device_id": "16c1",
            "kernel_driver": "nvidia",
            "iommu_group": "30",
        },
        vendor_board_info={
            "source": "nvml",
            "uuid": "GPU-11111111-2222-3333-4444-555555555555",
            "serial": "1650000000001",
            "part_number": "900-2G520-0000-000",
            "memory_bytes": "85899345920",
            "driver_version": "550.54.15",
            "virtualization_mode": "none",
            "mig_mode": "disabled",
        },
        numa_node=0,
        deployables=(
            base.Deployable(
                name="0000_3b_00_0",
                resource_class="PGPU",
                traits=("OWNER_CYBORG", "CUSTOM_NVIDIA_2330"),
                attach_handles=(base.AttachHandle("PCI", H100),),
            ),
        ),
        firmware=(
            base.FirmwareComponent("vbios", "96.00.5E.00.01", False, "reset"),
            base.FirmwareComponent("inforom", "G520.0200.00.05", False, "reset"),
            base.FirmwareComponent("gsp", "550.54.15", False, "reset"),
        ),
    )
    assert "serial" not in a100.vendor_board_info
    assert a100.firmware == (base.FirmwareComponent("vbios", "92.00.45.00.03", False, "reset"),)
    assert [(d.name, d.resource_class, d.traits[-1]) for d in a100.deployables] == [
        ("0000_07_00_0_mig1_0", "VGPU", "CUSTOM_NVIDIA_20B0_MIG_3G_20GB"),
        ("0000_07_00_0_mig13_0", "VGPU", "CUSTOM_NVIDIA_20B0_MIG_1G_5GB"),
    ]
    assert a100.deployables[0].attach_handles == (
        base.AttachHandle(
            "MIG",
            A100,
            {
                "mig_uuid": "MIG-0001",
                "gpu_instance_id": "1",
                "compute_instance_id": "0",
                "profile": "3g.20gb",
            },
        ),
    )
    # Read only: MIG untouched, and NVML shut down as often as it was started.
    assert nvml.setter_calls == []
    assert nvml.initialized == 0
    assert driver.errors == []


def test_flash_command_makes_vbios_updatable(conf, host):
    _gpu_host(host)
    conf.set_override("flash_command", ["nvflash", "{image}"], group="nvidia")
    h100 = nvidia.NvidiaDriver(conf, nvml=FakeNvml([H100_NVML])).discover()[1]
    assert h100.firmware[0] == base.FirmwareComponent("vbios", "96.00.5E.00.01", True, "reset")


def test_nvml_errors_per_field_and_lost_gpu(conf, host):
    _gpu_host(host)
    nvml = FakeNvml(
        [H100_NVML, A100_NVML],
        errors={
            ("nvmlDeviceGetInforomImageVersion", 0): pynvml.NVML_ERROR_CORRUPTED_INFOROM,
            ("nvmlDeviceGetHandleByIndex", 1): pynvml.NVML_ERROR_GPU_IS_LOST,
        },
    )
    a100, h100 = nvidia.NvidiaDriver(conf, nvml=nvml).discover()
    assert [c.component for c in h100.firmware] == ["vbios", "gsp"]
    # Lost to NVML, still in sysfs: reported without firmware rather than dropped.
    assert (a100.model, a100.firmware, a100.stable_id) == ("NVIDIA GPU 20b0", (), A100)


@pytest.mark.parametrize(
    "error", [pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, pynvml.NVML_ERROR_DRIVER_NOT_LOADED]
)
def test_falls_back_to_nvidia_smi(conf, host, tools, error):
    _gpu_host(host)
    tools.add(
        H100,
        "nvidia",
        {"vbios": "96.00.5E.00.01", "inforom": "G520.0200.00.05"},
        name="NVIDIA H100 80GB HBM3",
        serial="1650000000001",
        uuid="GPU-11111111-2222-3333-4444-555555555555",
        pci_device_id="0x233010DE",
        memory_mib=81559,
    )
    driver = nvidia.NvidiaDriver(conf, nvml=FakeNvml([], init_error=error), runner=tools.runner())
    devices = {d.pci_address: d for d in driver.discover()}
    h100 = devices[H100]
    assert h100.vendor_board_info["source"] == "nvidia-smi"
    assert h100.vendor_board_info["memory_bytes"] == str(81559 * 2**20)
    assert [(c.component, c.version) for c in h100.firmware] == [
        ("vbios", "96.00.5E.00.01"),
        ("inforom", "G520.0200.00.05"),
    ]
    assert devices[A100].firmware == ()  # nvidia-smi does not know it
    assert driver.errors[0].startswith("nvml: NVMLError_")
    assert tools.calls("nvidia-smi") == [["-q", "-x", "C"]]


@pytest.mark.parametrize("failure", ["rc:9", "garbage", "missing"])
def test_falls_back_to_procfs(conf, host, tools, failure):
    _gpu_host(host)
    host.write(
        "proc/driver/nvidia/version",
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 2024",
    )
    host.write(
        f"proc/driver/nvidia/gpus/{H100}/information",
        "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 180\n"
        "GPU UUID: \t GPU-11111111-2222-3333-4444-555555555555\n"
        "Video BIOS: \t 96.00.5e.00.01\nBus Type: \t PCIe\nGPU Excluded:\t No\n",
    )
    if failure == "missing":
        tools.remove("nvidia-smi")
    else:
        tools.fail("nvidia-smi", failure)
    conf.set_override("use_nvml", False, group="nvidia")
    driver = nvidia.NvidiaDriver(conf, runner=tools.runner())
    h100 = {d.pci_address: d for d in driver.discover()}[H100]
    assert h100.vendor_board_info == {
        "source": "procfs",
        "uuid": "GPU-11111111-2222-3333-4444-555555555555",
        "driver_version": "550.54.15",
    }
    assert h100.firmware == (base.FirmwareComponent("vbios", "96.00.5e.00.01", False, "reset"),)
    assert driver.errors[0].startswith("nvidia-smi: ")


def test_sysfs_only(conf, host, tools):
    _gpu_host(host)
    tools.remove("nvidia-smi")
    devices = nvidia.NvidiaDriver(
        conf,
        nvml=FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND),
        runner=tools.runner(),
    ).discover()
    assert [(d.pci_address, d.model, d.vendor_board_info["source"]) for d in devices] == [
        (A100, "NVIDIA GPU 20b0", "sysfs"),
        (H100, "NVIDIA GPU 2330", "sysfs"),
    ]


def test_vgpu_types_and_vfs(conf, host):
    host.pci(
        "0000:41:00.0",
        "10de",
        "1eb8",
        "0x030200",
        driver="nvidia",
        files={
            "mdev_supported_types/nvidia-222/name": "GRID T4-1Q",
            "mdev_supported_types/nvidia-222/available_instances": "16",
            "mdev_supported_types/nvidia-223/name": "GRID T4-2Q",
            "mdev_supported_types/nvidia-223/available_instances": "0",
        },
    )
    host.pci("0000:81:00.0", "10de", "20b5", "0x030200", driver="nvidia")
    host.pci("0000:81:00.4", "10de", "20b5", "0x030200", physfn="0000:81:00.0")
    host.pci("0000:81:00.5", "10de", "20b5", "0x030200", physfn="0000:81:00.0")
    conf.set_override("use_nvml", False, group="nvidia")
    t4, a100 = nvidia.NvidiaDriver(conf, runner=_no_tools(host)).discover()
    assert t4.deployables == (
        base.Deployable(
            name="0000_41_00_0_nvidia-222",
            resource_class="VGPU",
            traits=("OWNER_CYBORG", "CUSTOM_NVIDIA_1EB8", "CUSTOM_NVIDIA_1EB8_T4_1Q"),
            num_accelerators=16,
            attach_handles=(
                base.AttachHandle("MDEV", "0000:41:00.0", {"asked_type": "nvidia-222"}),
            ),
            attributes={"vgpu_type_name": "GRID T4-1Q"},
        ),
    )
    # VFs are deployables of their PF, never devices of their own.
    assert [d.pci_address for d in (t4, a100)] == ["0000:41:00.0", "0000:81:00.0"]
    assert [
        (d.name, d.resource_class, d.attach_handles[0].pci_address) for d in a100.deployables
    ] == [
        ("0000_81_00_0_vf0", "VGPU", "0000:81:00.4"),
        ("0000_81_00_0_vf1", "VGPU", "0000:81:00.5"),
    ]


def _no_tools(host):
    from cyborg_lite.drivers.host import CommandRunner

    return CommandRunner(path=str(host.root / "no-bin"))


def test_parse_smi_h100():
    gpus = parse_smi_xml(fixture_text("nvidia-smi/h100.xml"))
    h100 = gpus[H100]
    assert (h100.name, h100.serial, h100.vbios, h100.inforom, h100.gsp, h100.device_id) == (
        "NVIDIA H100 80GB HBM3",
        "1650000000001",
        "96.00.5E.00.01",
        "G520.0200.00.05",
        "550.54.15",
        "2330",
    )
    assert (h100.mig_enabled, h100.mig, h100.virtualization_mode) == (False, (), "none")


def test_parse_smi_mig():
    gpus = parse_smi_xml(fixture_text("nvidia-smi/hgx-mig.xml"))
    assert sorted(gpus) == [A100, "0000:0f:00.0"]
    assert [(m.gpu_instance_id, m.compute_instance_id, m.memory_bytes) for m in gpus[A100].mig] == [
        (1, 0, 19968 * 2**20),
        (5, 0, 9856 * 2**20),
        (13, 0, 4864 * 2**20),
    ]
    second = gpus["0000:0f:00.0"]
    assert (second.mig_enabled, second.mig_pending, second.mig) == (False, True, ())


def test_parse_smi_geforce_and_blackwell():
    geforce = parse_smi_xml(fixture_text("nvidia-smi/geforce.xml"))["0000:01:00.0"]
    assert (geforce.serial, geforce.inforom, geforce.gsp, geforce.mig_enabled) == (
        None,
        None,
        None,
        None,
    )
    b200 = parse_smi_xml(fixture_text("nvidia-smi/blackwell.xml"))["0000:18:00.0"]
    assert (b200.inforom, b200.virtualization_mode, b200.driver_version) == (
        "G525.0225.00.01",
        "pass_through",
        "570.86.15",
    )


def test_parse_smi_garbage():
    with pytest.raises(ToolOutputError, match=r"^nvidia-smi: unparseable XML"):
        parse_smi_xml(fixture_text("nvidia-smi/truncated.xml"))
    with pytest.raises(ToolOutputError, match="unexpected root element <html>"):
        parse_smi_xml("<html/>")
    with pytest.raises(ToolOutputError, match="entities"):
        parse_smi_xml('<!DOCTYPE x [<!ENTITY a "aaaa">]><nvidia_smi_log>&a;</nvidia_smi_log>')


def test_procfs_excluded(host):
    host.write(
        "proc/driver/nvidia/gpus/0000:3b:00.0/information",
        "Model: NVIDIA H100\nVideo BIOS: ??.??.??.??.??\nGPU Excluded: Yes\n",
    )
    gpu = read_proc(SysfsReader(str(host.root)))[H100]
    assert (gpu.excluded, gpu.vbios, gpu.driver_version) == (True, "??.??.??.??.??", None)
