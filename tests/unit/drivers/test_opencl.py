"""The OpenCL driver: real PoCL (in process and in the isolated probe), and a fake pyopencl for
the NVIDIA/AMD PCI correlation paths, de-duplication and leaving claimed devices alone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cyborg_lite.drivers import base, opencl
from cyborg_lite.drivers.host import CommandRunner, ToolTimeout
from cyborg_lite.drivers.opencl_probe import probe


def test_pocl_cpu_is_not_reported_by_default(conf):
    conf.set_override("isolate", False, group="opencl")
    assert opencl.OpenClDriver(conf).discover() == []


def test_pocl_cpu_when_asked(conf):
    conf.set_override("isolate", False, group="opencl")
    conf.set_override("include_cpu_devices", True, group="opencl")
    (dev,) = opencl.OpenClDriver(conf).discover()
    assert (dev.type, dev.vendor, dev.driver, dev.pci_address, dev.firmware) == (
        "AICHIP",
        "",
        "opencl",
        None,
        (),
    )
    assert dev.model.startswith("pthread-")
    assert dev.stable_id == f"opencl:Portable Computing Language:{dev.model}:0"
    info = dev.vendor_board_info
    assert info["platform"] == "Portable Computing Language"
    assert info["opencl_version"].startswith("OpenCL ")
    assert (info["device_type"], int(info["compute_units"]) >= 1) == ("cpu", True)
    # Host-derived memory changes between runs, so it is left out for CPU devices.
    assert "memory_bytes" not in info
    assert dev.deployables == (
        base.Deployable(
            name="opencl_p0_d0",
            resource_class="CUSTOM_OPENCL",
            traits=("OWNER_CYBORG", "CUSTOM_OPENCL", "CUSTOM_OPENCL_CPU"),
        ),
    )


def test_pocl_in_isolated_probe_with_two_devices(conf):
    conf.set_override("include_cpu_devices", True, group="opencl")
    runner = CommandRunner(env={"POCL_DEVICES": "pthread basic"})
    devices = opencl.OpenClDriver(conf, runner=runner).discover()
    assert sorted(d.model.split("-")[0] for d in devices) == ["basic", "pthread"]
    assert sorted(d.deployables[0].name for d in devices) == ["opencl_p0_d0", "opencl_p0_d1"]


def test_probe_timeout_names_the_probe(conf, tmp_path):
    # A wedged ICD, played by a sitecustomize that hangs the probe's interpreter at start.
    (tmp_path / "sitecustomize.py").write_text("import time\ntime.sleep(30)\n")
    conf.set_override("probe_timeout", 0.3, group="opencl")
    runner = CommandRunner(env={"PYTHONPATH": str(tmp_path)}, kill_grace=0.1)
    driver = opencl.OpenClDriver(conf, runner=runner)
    with pytest.raises(ToolTimeout, match=r"^opencl_probe: no result after 0.3s; killed"):
        driver.discover()


def test_flash_is_unsupported(conf):
    device = base.Device("x", "GPU", "", "m", "opencl")
    result = opencl.OpenClDriver(conf, backend=list).flash(device, "vbios", "/x", 1)
    assert (result.ok, result.error_code) == (False, "unsupported")


class _Dev:
    """A pyopencl device: absent extension attributes raise, as pyopencl's LogicError does."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __getattr__(self, name):
        raise RuntimeError("clGetDeviceInfo failed: INVALID_VALUE")


def _platform(name, vendor, *devices, version="OpenCL 3.0"):
    return SimpleNamespace(
        name=name, vendor=vendor, version=version, get_devices=lambda: list(devices)
    )


def _gpu(name, extensions, **extra):
    return _Dev(
        name=name,
        vendor="v",
        version="OpenCL 3.0",
        driver_version="1",
        type=4,
        max_compute_units=108,
        global_mem_size=42949672960,
        max_clock_frequency=1410,
        extensions=extensions,
        **extra,
    )


NV = _gpu(
    "NVIDIA A100-SXM4-40GB",
    "cl_khr_fp64 cl_nv_device_attribute_query",
    pci_bus_id_nv=0x3B,
    pci_slot_id_nv=(0x00 << 3) | 0,
    pci_domain_id_nv=0,
)
NV_OLD = _gpu(
    "NVIDIA T4", "cl_nv_device_attribute_query", pci_bus_id_nv=0x5E, pci_slot_id_nv=(0x01 << 3) | 2
)  # no domain on older drivers
AMD = _gpu(
    "gfx90a",
    "cl_amd_device_attribute_query",
    topology_amd=SimpleNamespace(type=1, bus=0x63, device=0, function=0),
)


def test_probe_decodes_vendor_pci_info():
    fake_cl = SimpleNamespace(
        get_platforms=lambda: [
            _platform("NVIDIA CUDA", "NVIDIA Corporation", NV, NV_OLD),
            _platform("AMD Accelerated Parallel Processing", "Advanced Micro Devices, Inc.", AMD),
        ]
    )
    found = probe(fake_cl)
    assert [r["pci"] for r in found] == [
        {"domain": 0, "bus": 0x3B, "device": 0, "function": 0},
        {"domain": None, "bus": 0x5E, "device": 1, "function": 2},
        {"domain": None, "bus": 0x63, "device": 0, "function": 0},
    ]
    assert (found[2]["platform_index"], found[2]["device_index"]) == (1, 0)


def test_probe_without_any_platform():
    def none():
        raise RuntimeError("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")

    assert probe(SimpleNamespace(get_platforms=none)) == []


def _records(*platforms):
    return lambda: probe(SimpleNamespace(get_platforms=lambda: list(platforms)))


def test_claimed_devices_are_left_to_vendor_drivers(conf, host):
    host.pci("0000:3b:00.0", "10de", "20b0", "0x030200", driver="nvidia")
    host.pci("0000:63:00.0", "1002", "740f", "0x038000", driver="amdgpu")
    host.pci("0001:63:00.0", "1af4", "1000", "0x020000")  # makes 63:00.0 ambiguous
    backend = _records(
        _platform("NVIDIA CUDA", "NVIDIA Corporation", NV),
        _platform("NVIDIA CUDA", "NVIDIA Corporation", NV),  # the same ICD registered twice
        _platform("AMD Accelerated Parallel Processing", "Advanced Micro Devices, Inc.", AMD),
    )
    assert opencl.OpenClDriver(conf, backend=backend).discover() == []
    # With the vendor drivers disabled, OpenCL reports them, once each.
    conf.set_override("enabled_drivers", ["opencl"], group="agent")
    nv, amd = opencl.OpenClDriver(conf, backend=backend).discover()
    assert (nv.type, nv.vendor, nv.pci_address, nv.stable_id) == (
        "GPU",
        "10de",
        "0000:3b:00.0",
        "0000:3b:00.0",
    )
    assert nv.vendor_board_info["memory_bytes"] == "42949672960"
    assert nv.deployables == (
        base.Deployable(
            name="opencl_0000_3b_00_0",
            resource_class="CUSTOM_PCI",
            traits=(
                "OWNER_CYBORG",
                "CUSTOM_OPENCL",
                "CUSTOM_PCI_10DE",
                "CUSTOM_PCI_PRODUCT_ID_20B0",
            ),
            attach_handles=(base.AttachHandle("PCI", "0000:3b:00.0"),),
        ),
    )
    # Domain-less AMD topology with two candidates: no guess, no PCI handle.
    assert (amd.pci_address, amd.deployables[0].resource_class) == (None, "CUSTOM_OPENCL")
    # Usage: OpenCL has no load counters; only the memory discovery read is reported.
    driver = opencl.OpenClDriver(conf, backend=backend)
    assert driver.sample([nv]) == [base.Sample("0000:3b:00.0", memory_total_bytes=42949672960)]


def test_domainless_unique_match_and_vfio_skip(conf, host):
    conf.set_override("enabled_drivers", ["opencl"], group="agent")
    host.pci("0000:5e:01.2", "10de", "1eb8", "0x030200", driver="nvidia")
    host.pci("0000:3b:00.0", "10de", "20b0", "0x030200", driver="vfio-pci")
    backend = _records(_platform("NVIDIA CUDA", "NVIDIA Corporation", NV, NV_OLD))
    (t4,) = opencl.OpenClDriver(conf, backend=backend).discover()
    assert (t4.model, t4.pci_address) == ("NVIDIA T4", "0000:5e:01.2")


def test_accelerator_types_and_owned_platforms(conf):
    fpga = _Dev(
        name="Acme FPGA card",
        vendor="Acme",
        version="OpenCL 1.2",
        driver_version="x",
        type=8,
        extensions="",
    )
    npu = _Dev(
        name="Acme NPU",
        vendor="Acme",
        version="OpenCL 1.2",
        driver_version="x",
        type=16,
        extensions="",
    )
    backend = _records(_platform("Acme Platform", "Acme", fpga, npu))
    devices = opencl.OpenClDriver(conf, backend=backend).discover()
    assert [(d.type, d.deployables[0].traits[-1]) for d in devices] == [
        ("FPGA", "CUSTOM_OPENCL_FPGA"),
        ("AICHIP", "CUSTOM_OPENCL_AICHIP"),
    ]
    # Intel's FPGA SDK platform without PCI info: its cards are the fpga_intel driver's.
    intel = _records(_platform("Intel(R) FPGA SDK for OpenCL(TM)", "Intel(R) Corporation", fpga))
    assert opencl.OpenClDriver(conf, backend=intel).discover() == []


@pytest.mark.parametrize("isolate", [True, False])
def test_backend_choice(conf, isolate):
    conf.set_override("isolate", isolate, group="opencl")
    driver = opencl.OpenClDriver(conf)
    assert driver.backend.__name__ == ("_subprocess_probe" if isolate else "_inprocess_probe")
