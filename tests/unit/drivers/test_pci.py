"""The PCI sysfs reader and address normalisation."""

from __future__ import annotations

import pytest

from cyborg_lite.drivers import pci
from cyborg_lite.drivers.host import SysfsReader


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("0000:3b:00.0", "0000:3b:00.0"),
        ("00000000:3B:00.0", "0000:3b:00.0"),  # NVML / nvidia-smi
        ("0000:B1:00.0", "0000:b1:00.0"),  # fpgainfo
        ("10000:01:00.0", "10000:01:00.0"),  # VMD domain: never truncated
        ("0000:d8:00:0", "0000:d8:00.0"),  # Cyborg's Xilinx driver spelling
        ("3b:00.1", "0000:3b:00.1"),  # domain-less
        (" 0000:3b:1f.7\n", "0000:3b:1f.7"),
    ],
)
def test_normalize(text, canonical):
    assert pci.normalize_address(text) == canonical
    assert pci.is_canonical(canonical)


@pytest.mark.parametrize(
    "text", ["", "0000:3b:20.0", "0000:3b:00.8", "--help", "0000:3b:00.0;rm", "000000000:3b:00.0"]
)
def test_rejects(text):
    with pytest.raises(ValueError, match="not a PCI address"):
        pci.parse_address(text)
    assert pci.try_normalize(text) is None


@pytest.mark.parametrize(
    "text", ["0000:3B:00.0", "00000000:3b:00.0", "3b:00.0", "-0000:3b:00.0", "0000:3b:00.0\n"]
)
def test_canonical_check_is_strict(text):
    assert not pci.is_canonical(text)


def test_devices_sriov_numa_iommu_driver(host):
    host.pci(
        "0000:3b:00.0",
        "10de",
        "2330",
        "0x030200",
        subsystem_device="16c1",
        driver="nvidia",
        numa_node=1,
        iommu_group=42,
        files={"sriov_totalvfs": "16"},
    )
    host.pci("0000:3b:00.4", "10de", "2330", "0x030200", physfn="0000:3b:00.0", driver="nvidia")
    host.pci("0000:3b:00.5", "10de", "2330", "0x030200", physfn="0000:3b:00.0")
    host.pci("0000:00:02.0", "1af4", "1050", "0x030000", dangling_driver=True, driver="virtio")
    devices = {d.address: d for d in pci.PciBus(SysfsReader(str(host.root))).devices()}
    assert sorted(devices) == ["0000:00:02.0", "0000:3b:00.0", "0000:3b:00.4", "0000:3b:00.5"]
    pf = devices["0000:3b:00.0"]
    assert pf == pci.PciDevice(
        address="0000:3b:00.0",
        vendor_id="10de",
        device_id="2330",
        subsystem_vendor_id="10de",
        subsystem_device_id="16c1",
        class_code=0x0302,
        revision="00a1",
        driver="nvidia",
        numa_node=1,
        iommu_group=42,
        physfn=None,
        virtfns=("0000:3b:00.4", "0000:3b:00.5"),
        sriov_totalvfs=16,
        sriov_numvfs=2,
    )
    assert devices["0000:3b:00.4"].physfn == "0000:3b:00.0"
    assert devices["0000:3b:00.4"].is_vf
    assert devices["0000:3b:00.5"].driver is None
    virtio = devices["0000:00:02.0"]
    assert virtio.numa_node is None  # -1 means unknown
    assert virtio.driver is None  # dangling link: module gone
    assert virtio.iommu_group is None


def test_unreadable_function_is_skipped(host):
    host.pci("0000:01:00.0", "10de", "2330", "0x030200")
    host.dev("0000:01:00.0", "class").write_text("garbage\n")
    host.pci("0000:02:00.0", "10de", "2330", "0x030200")
    host.write("sys/bus/pci/devices/not-an-address", "x")
    bus = pci.PciBus(SysfsReader(str(host.root)))
    assert [d.address for d in bus.devices()] == ["0000:02:00.0"]


def test_board_info(host):
    host.pci("0000:5e:00.0", "8086", "0b30", "0x120000", driver="dfl-pci", iommu_group=7)
    dev = pci.PciBus(SysfsReader(str(host.root))).get("0000:5E:00.0")
    assert pci.board_info(dev) == {
        "vendor_id": "8086",
        "product_id": "0b30",
        "controller": "Processing accelerators",
        "class_code": "1200",
        "subsystem_vendor_id": "8086",
        "subsystem_device_id": "0000",
        "kernel_driver": "dfl-pci",
        "iommu_group": "7",
    }
