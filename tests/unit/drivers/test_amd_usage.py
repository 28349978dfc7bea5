"""AMD usage: amdsmi, the amd-smi metric fallback, amdgpu sysfs filling gaps, failures."""

from __future__ import annotations

import pytest

from cyborg_lite.drivers import amd, base
from cyborg_lite.drivers.amd_usage import parse_list, parse_metric
from cyborg_lite.drivers.host import ToolOutputError
from cyborg_lite.drivers.usage import Figures
from tests.unit.drivers.conftest import fixture_text
from tests.unit.drivers.fake_amdsmi import DRIVER_NOT_LOADED, FakeAmdSmi
from tests.unit.drivers.test_amd import MI300X, MI300X_LIB, V620, V620_LIB

MB = 2**20
MI300X_DEV = base.Device("mi300x", "GPU", "1002", "MI300X", "amd", pci_address=MI300X)
V620_DEV = base.Device("v620", "GPU", "1002", "V620", "amd", pci_address=V620)


def _host(host, *, hwmon=True):
    files = {
        "gpu_busy_percent": "7",
        "mem_info_vram_used": str(300 * MB),
        "mem_info_vram_total": str(32752 * MB),
    }
    if hwmon:
        files |= {
            "hwmon/hwmon4/power1_average": "41000000",
            "hwmon/hwmon4/temp1_input": "36000",
            "hwmon/hwmon4/temp1_label": "edge",
            "hwmon/hwmon4/temp2_input": "44000",
            "hwmon/hwmon4/temp2_label": "junction",
        }
    host.pci(MI300X, "1002", "74a1", "0x120000", driver="amdgpu")
    host.pci(V620, "1002", "73a1", "0x038000", driver="amdgpu", files=files)


def test_amdsmi_reading_with_sysfs_filling_what_it_does_not_say(conf, host):
    _host(host)
    busy = {
        **MI300X_LIB,
        "activity": {"gfx_activity": 94, "umc_activity": 61, "mm_activity": "N/A"},
        "power": {"current_socket_power": 612, "average_socket_power": 600},
        "vram_usage": {"vram_used": 17153, "vram_total": 196592},
        "temps": {"HOTSPOT": 71, "EDGE": 50},
        "processes": [{"pid": 1}, {"pid": 2}],
    }
    # A guest: activity unsupported; "N/A" power; only the edge sensor.
    guest = {
        **V620_LIB,
        "activity": None,
        "power": {"current_socket_power": "N/A"},
        "temps": {"EDGE": 33},
        "vram_usage": None,
        "processes": [],
    }
    lib = FakeAmdSmi([busy, guest])
    driver = amd.AmdDriver(conf, amdsmi=lib)
    assert driver.sample([MI300X_DEV, V620_DEV]) == [
        base.Sample("mi300x", None, 94.0, 17153 * MB, 196592 * MB, 612.0, 71.0, 2),
        # sysfs: busy percent, VRAM and hwmon power; amdsmi's edge reading is kept.
        base.Sample("v620", None, 7.0, 300 * MB, 32752 * MB, 41.0, 33.0, 0),
    ]
    assert lib.shut_down == 1
    assert driver.errors == []


def _tools(tools):
    for addr, name in ((MI300X, "AMD Instinct MI300X"), (V620, "Radeon PRO V620")):
        tools.add(
            addr,
            "amd",
            {"vbios": "x"},
            name=name,
            device_id="0x74a1",
            part_number="p",
            serial="s",
            vram_mb=1,
        )
    tools.set(
        MI300X,
        usage={
            "gfx": 94,
            "watts": 612,
            "hotspot": 71,
            "edge": 50,
            "total_mb": 196592,
            "used_mb": 17153,
        },
    )


def test_amd_smi_metric_fallback_one_call_for_every_gpu(conf, host, tools):
    _host(host, hwmon=False)
    _tools(tools)
    driver = amd.AmdDriver(
        conf, amdsmi=FakeAmdSmi([], init_error=DRIVER_NOT_LOADED), runner=tools.runner()
    )
    assert driver.sample([MI300X_DEV, V620_DEV]) == [
        base.Sample("mi300x", None, 94.0, 17153 * MB, 196592 * MB, 612.0, 71.0, None),
        # amd-smi knows nothing here but sysfs does; power and temperature stay unknown.
        base.Sample("v620", None, 7.0, 300 * MB, 32752 * MB, None, None, None),
    ]
    assert tools.calls("amd-smi") == [
        ["metric", "--usage", "--power", "--temperature", "--mem-usage", "--json", "C"],
        ["list", "--json", "C"],
    ]
    assert [e.split(":")[0] for e in driver.errors] == ["amdsmi"]


@pytest.mark.parametrize("failure", ["missing", "rc:1", "garbage"])
def test_no_tool_leaves_sysfs_only(conf, host, tools, failure):
    _host(host)
    _tools(tools)
    conf.set_override("use_amdsmi", False, group="amd")
    if failure == "missing":
        tools.remove("amd-smi")
    else:
        tools.fail("amd-smi", failure)
    driver = amd.AmdDriver(conf, runner=tools.runner())
    assert driver.sample([MI300X_DEV, V620_DEV]) == [
        base.Sample("mi300x"),
        base.Sample("v620", None, 7.0, 300 * MB, 32752 * MB, 41.0, 44.0, None),
    ]
    assert [e.split(":")[0] for e in driver.errors] == ["amd-smi"]


def test_parse_metric_envelope_fixture():
    addresses = parse_list(fixture_text("amd-smi/list.json"))
    assert addresses == {0: MI300X, 1: V620}
    found = parse_metric(fixture_text("amd-smi/metric-envelope.json"), addresses)
    assert found[MI300X] == Figures(94.0, 17153 * MB, 196592 * MB, 612.0, 71.0)
    # 65535 is no percent; "N/A" power is unknown; the edge sensor stands in for hotspot.
    assert found[V620] == Figures(None, 284 * MB, 32752 * MB, None, 36.0)


def test_parse_metric_older_bare_list_with_its_own_bdf():
    found = parse_metric(fixture_text("amd-smi/metric-list.json"), {})
    assert found == {MI300X: Figures(12.0, 1024 * MB, 196592 * MB, 301.0, 48.0)}


def test_parse_metric_garbage():
    with pytest.raises(ToolOutputError, match=r"^amd-smi: unparseable JSON"):
        parse_metric("{not json", {})
    with pytest.raises(ToolOutputError, match="gpu_data envelope"):
        parse_metric('"text"', {})
