"""NVIDIA usage: NVML (whole GPUs and MIG slices), the nvidia-smi CSV fallback, failures."""

from __future__ import annotations

import pynvml
import pytest

from cyborg_lite.drivers import base, nvidia
from cyborg_lite.drivers.host import ToolOutputError
from cyborg_lite.drivers.nvidia_usage import (
    parse_mig_usage,
    parse_query_apps,
    parse_query_gpu,
)
from cyborg_lite.drivers.usage import Figures
from tests.unit.drivers.conftest import fixture_text
from tests.unit.drivers.fake_nvml import FakeNvml
from tests.unit.drivers.test_nvidia import A100, A100_NVML, H100, H100_NVML, _gpu_host

GIB = 2**30
MIB = 2**20
H100_UUID = H100_NVML["uuid"]
A100_UUID = A100_NVML["uuid"]


def _busy_h100() -> dict:
    return {
        **H100_NVML,
        "util": 85,
        "memory_used": 40 * GIB,
        "power_mw": 512340,
        "temp": 61,
        "pids": [4242, 4243],
    }


def _mig_a100() -> dict:
    # The parent in MIG mode has no "util" (NotSupported), nor have its slices.
    migs = [dict(m) if m else None for m in A100_NVML["mig_devices"]]
    migs[0].update(memory_used=11 * GIB, pids=[5150])
    migs[2].update(memory_used=13 * MIB, pids=[])
    return {
        **A100_NVML,
        "mig_devices": migs,
        "memory_used": 12 * GIB,
        "power_mw": 95100,
        "temp": 38,
        "pids": [5150],
    }


def test_nvml_whole_gpu_and_mig_slices(conf, host):
    _gpu_host(host)
    nvml = FakeNvml([_busy_h100(), _mig_a100()])
    driver = nvidia.NvidiaDriver(conf, nvml=nvml)
    a100, h100 = driver.discover()
    samples = driver.sample([a100, h100])
    assert samples == [
        base.Sample(A100_UUID, None, None, 12 * GIB, 40 * GIB, 95.1, 38.0, 1),
        base.Sample(A100_UUID, "0000_07_00_0_mig1_0", None, 11 * GIB, 20937965568, None, None, 1),
        base.Sample(A100_UUID, "0000_07_00_0_mig13_0", None, 13 * MIB, 5100273664, None, None, 0),
        base.Sample(H100_UUID, None, 85.0, 40 * GIB, 85899345920, 512.34, 61.0, 2),
    ]
    assert nvml.initialized == 0
    assert nvml.setter_calls == []
    assert driver.errors == []


def test_nvml_unsupported_fields_are_unknown_not_zero(conf, host):
    _gpu_host(host)
    gpu = {**_busy_h100(), "power_mw": None, "temp": None}
    nvml = FakeNvml(
        [gpu], errors={("nvmlDeviceGetComputeRunningProcesses", 0): pynvml.NVML_ERROR_NO_PERMISSION}
    )
    driver = nvidia.NvidiaDriver(conf, nvml=nvml)
    h100 = next(d for d in driver.discover() if d.pci_address == H100)
    (s,) = driver.sample([h100])
    assert (s.utilization_percent, s.power_watts, s.temperature_celsius, s.processes) == (
        85.0,
        None,
        None,
        None,
    )


def _smi_gpus(tools):
    tools.add(
        H100,
        "nvidia",
        {"vbios": "96.00.5E.00.01"},
        name="NVIDIA H100 80GB HBM3",
        serial="1",
        uuid=H100_UUID,
        pci_device_id="0x233010DE",
        memory_mib=81559,
    )
    tools.add(
        A100,
        "nvidia",
        {"vbios": "92.00.45.00.03"},
        name="NVIDIA A100-SXM4-40GB",
        serial="2",
        uuid=A100_UUID,
        pci_device_id="0x20B010DE",
        memory_mib=40960,
    )
    tools.set(
        H100,
        usage={
            "utilization.gpu": 85,
            "memory.used": 40960,
            "memory.total": 81559,
            "power.draw": "512.34",
            "temperature.gpu": 61,
            "processes": [[4242, 38000], [4243, 2048]],
        },
    )
    tools.set(
        A100,
        usage={
            "memory.used": 12000,
            "memory.total": 40960,
            "power.draw": "[Not Supported]",
            "temperature.gpu": 38,
            "processes": [[5150, "[N/A]"]],
            "mig": [
                {"gi": 1, "ci": 0, "total_mib": 19968, "used_mib": 11895, "pids": [5150]},
                {"gi": 13, "ci": 0, "total_mib": 4864, "used_mib": 13, "pids": []},
            ],
        },
    )


def _mig_device(driver=None):
    """The A100 as discovery reports it with MIG on: a deployable per instance."""
    return base.Device(
        A100_UUID,
        "GPU",
        "10de",
        "A100",
        "nvidia",
        pci_address=A100,
        deployables=tuple(
            base.Deployable(
                f"0000_07_00_0_mig{gi}_0",
                "VGPU",
                attach_handles=(
                    base.AttachHandle(
                        "MIG", A100, {"gpu_instance_id": str(gi), "compute_instance_id": "0"}
                    ),
                ),
            )
            for gi in (1, 13)
        ),
    )


@pytest.mark.parametrize("error", [pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, None])
def test_nvidia_smi_csv_fallback_one_query_for_all_gpus(conf, host, tools, error):
    _gpu_host(host)
    _smi_gpus(tools)
    if error is None:
        conf.set_override("use_nvml", False, group="nvidia")
    nvml = FakeNvml([], init_error=error or pynvml.NVML_ERROR_UNKNOWN)
    driver = nvidia.NvidiaDriver(conf, nvml=nvml, runner=tools.runner())
    h100 = base.Device(H100_UUID, "GPU", "10de", "H100", "nvidia", pci_address=H100)
    samples = driver.sample([_mig_device(driver), h100])
    assert samples == [
        base.Sample(A100_UUID, None, None, 12000 * MIB, 40960 * MIB, None, 38.0, 1),
        base.Sample(
            A100_UUID, "0000_07_00_0_mig1_0", None, 11895 * MIB, 19968 * MIB, None, None, 1
        ),
        base.Sample(A100_UUID, "0000_07_00_0_mig13_0", None, 13 * MIB, 4864 * MIB, None, None, 0),
        base.Sample(H100_UUID, None, 85.0, 40960 * MIB, 81559 * MIB, 512.34, 61.0, 2),
    ]
    calls = tools.calls("nvidia-smi")
    # One query per kind for every GPU of the host, and the XML only because of MIG.
    assert [c[0] for c in calls] == [
        "--query-gpu=pci.bus_id,uuid,utilization.gpu,memory.used,memory.total,power.draw,"
        "temperature.gpu",
        "--query-compute-apps=gpu_uuid,pid,used_memory",
        "-q",
    ]
    if error is None:
        assert driver.errors == []
    else:
        assert [e.split(":")[0] for e in driver.errors] == ["nvml"]


def test_nvidia_smi_without_mig_skips_the_xml(conf, host, tools):
    _smi_gpus(tools)
    conf.set_override("use_nvml", False, group="nvidia")
    driver = nvidia.NvidiaDriver(conf, runner=tools.runner())
    h100 = base.Device(H100_UUID, "GPU", "10de", "H100", "nvidia", pci_address=H100)
    (s,) = driver.sample([h100])
    assert s.processes == 2
    assert [c[0].partition("=")[0] for c in tools.calls("nvidia-smi")] == [
        "--query-gpu",
        "--query-compute-apps",
    ]


@pytest.mark.parametrize("failure", ["missing", "rc:9", "garbage", "hang"])
def test_a_missing_or_failing_tool_leaves_every_figure_unknown(conf, host, tools, failure):
    _smi_gpus(tools)
    conf.set_override("use_nvml", False, group="nvidia")
    conf.set_override("command_timeout", 1.0, group="nvidia")
    if failure == "missing":
        tools.remove("nvidia-smi")
    else:
        tools.fail("nvidia-smi", failure)
    driver = nvidia.NvidiaDriver(conf, runner=tools.runner())
    h100 = base.Device(H100_UUID, "GPU", "10de", "H100", "nvidia", pci_address=H100)
    mig = _mig_device(driver)
    samples = driver.sample([h100, mig])
    assert samples == [
        base.Sample(H100_UUID),
        base.Sample(A100_UUID),
        base.Sample(A100_UUID, "0000_07_00_0_mig1_0"),
        base.Sample(A100_UUID, "0000_07_00_0_mig13_0"),
    ]
    assert [e.split(":")[0] for e in driver.errors] == ["nvidia-smi"]


def test_a_failing_process_query_leaves_only_processes_unknown(conf, host, tools):
    _smi_gpus(tools)
    tools.fail("nvidia-smi:compute-apps", "rc:6")
    conf.set_override("use_nvml", False, group="nvidia")
    driver = nvidia.NvidiaDriver(conf, runner=tools.runner())
    h100 = base.Device(H100_UUID, "GPU", "10de", "H100", "nvidia", pci_address=H100)
    (s,) = driver.sample([h100])
    assert (s.utilization_percent, s.power_watts, s.processes) == (85.0, 512.34, None)
    assert driver.errors == [driver.errors[0]]
    assert driver.errors[0].startswith("nvidia-smi: exited with status 6")


def test_parse_query_gpu_fixture():
    rows = parse_query_gpu(fixture_text("nvidia-smi/query-gpu.csv"))
    assert rows[H100] == (
        H100_UUID,
        Figures(85.0, 40960 * MIB, 81559 * MIB, 512.34, 61.0),
    )
    # MIG on: utilization [N/A]; a GeForce: power [Not Supported]. Unknown, never 0.
    assert rows[A100][1].utilization_percent is None
    assert rows["0000:01:00.0"][1].power_watts is None
    assert rows["0000:01:00.0"][1].utilization_percent == 3.0


def test_parse_query_gpu_rejects_a_message():
    with pytest.raises(ToolOutputError, match="no --query-gpu rows"):
        parse_query_gpu("No devices were found\n")
    assert parse_query_gpu("") == {}


def test_parse_query_apps_fixture():
    assert parse_query_apps(fixture_text("nvidia-smi/query-compute-apps.csv")) == {
        H100_UUID: 2,
        A100_UUID: 1,
    }
    assert parse_query_apps("") == {}


def test_parse_mig_usage_fixture():
    migs = parse_mig_usage(fixture_text("nvidia-smi/mig-usage.xml"))
    assert migs == {
        A100: {
            (1, 0): Figures(None, 11895 * MIB, 19968 * MIB, None, None, 1),
            (13, 0): Figures(None, 13 * MIB, 4864 * MIB, None, None, 0),
        }
    }
