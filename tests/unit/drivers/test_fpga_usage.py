"""FPGA usage: DFL/XRT hwmon first, fpgainfo power/temp and xbutil for the rest, failures."""

from __future__ import annotations

import pytest

from cyborg_lite.drivers import base, fpga_intel, fpga_xilinx
from cyborg_lite.drivers.fpga_usage import (
    fpgainfo_figures,
    parse_fpgainfo_metrics,
    parse_xbutil,
)
from cyborg_lite.drivers.host import ToolOutputError
from cyborg_lite.drivers.usage import Figures
from tests.unit.drivers.conftest import fixture_text
from tests.unit.drivers.test_fpga_intel import N3000, REGION, _n3000
from tests.unit.drivers.test_fpga_xilinx import USER, _u250

FME = f"{REGION}/dfl-fme.0"


def _hwmon(host, address, *, power=True, temp=True):
    d = host.dev(address)
    if power:
        host.write(d / f"{FME}/hwmon/hwmon3/name", "dfl_fme_power")
        host.write(d / f"{FME}/hwmon/hwmon3/power1_input", "58360411")
    if temp:
        host.write(d / f"{FME}/hwmon/hwmon4/name", "dfl_fme_thermal")
        host.write(d / f"{FME}/hwmon/hwmon4/temp1_input", "61500")


def _intel(conf, host, tools):
    _n3000(host, tools)
    tools.set(N3000, usage={"watts": 69.24, "volts": 12.02, "board_c": 38.0, "die_c": 61.0})
    driver = fpga_intel.IntelFpgaDriver(conf, runner=tools.runner())
    return driver, driver.discover()


def test_intel_hwmon_needs_no_tool(conf, host, tools):
    driver, devices = _intel(conf, host, tools)
    _hwmon(host, N3000)
    calls = len(tools.calls("fpgainfo"))
    assert driver.sample(devices) == [
        base.Sample(N3000, power_watts=58.360411, temperature_celsius=61.5, function_loaded=True)
    ]
    assert len(tools.calls("fpgainfo")) == calls  # no fpgainfo run for usage
    assert driver.errors == []


def test_intel_fpgainfo_fills_what_hwmon_lacks_once_per_kind(conf, host, tools):
    driver, devices = _intel(conf, host, tools)
    _hwmon(host, N3000, temp=False)
    before = len(tools.calls("fpgainfo"))
    (s,) = driver.sample(devices)
    assert (s.power_watts, s.temperature_celsius) == (58.360411, 61.0)  # the FPGA die's
    assert (s.utilization_percent, s.processes, s.in_use) == (None, None, None)
    assert tools.calls("fpgainfo")[before:] == [["temp", "C"]]


def test_intel_fpgainfo_only(conf, host, tools):
    driver, devices = _intel(conf, host, tools)
    (s,) = driver.sample(devices)
    assert (s.power_watts, s.temperature_celsius, s.function_loaded) == (69.24, 61.0, True)


def test_intel_empty_port_has_no_function(conf, host, tools):
    driver, devices = _intel(conf, host, tools)
    host.write(host.dev(N3000) / f"{REGION}/dfl-port.0/afu_id", "0" * 32)
    assert driver.sample(devices)[0].function_loaded is False


@pytest.mark.parametrize("failure", ["missing", "rc:1", "garbage"])
def test_intel_without_hwmon_or_fpgainfo_is_unknown(conf, host, tools, failure):
    driver, devices = _intel(conf, host, tools)
    if failure == "missing":
        tools.remove("fpgainfo")
    else:
        tools.fail("fpgainfo", failure)
    assert driver.sample(devices) == [base.Sample(N3000, function_loaded=True)]
    assert [e.split(":")[0] for e in driver.errors] == ["fpgainfo", "fpgainfo"]


def test_intel_card_gone_since_discovery(conf, host, tools):
    driver, _ = _intel(conf, host, tools)
    gone = base.Device("0000:99:00.0", "FPGA", "8086", "N3000", "fpga_intel", "0000:99:00.0")
    assert driver.sample([gone]) == [base.Sample("0000:99:00.0")]


def test_parse_fpgainfo_power_and_temp_fixtures():
    power = parse_fpgainfo_metrics(fixture_text("fpgainfo/power.txt"))
    temp = parse_fpgainfo_metrics(fixture_text("fpgainfo/temp.txt"))
    assert sorted(power) == [N3000, "0000:b1:00.0"]
    assert power[N3000]["board power"] == (69.24, "Watts")
    assert "qsfp0 supply voltage" not in power[N3000]  # N/A is left out, not 0
    assert fpgainfo_figures(power[N3000], temp[N3000]) == Figures(
        power_watts=69.24, temperature_celsius=61.0
    )
    # The N6001 prints no power figure in watts; its one readable temperature stands in.
    assert fpgainfo_figures(power["0000:b1:00.0"], temp["0000:b1:00.0"]) == Figures(
        temperature_celsius=57.0
    )


def test_parse_fpgainfo_without_a_card():
    with pytest.raises(ToolOutputError, match="no card"):
        parse_fpgainfo_metrics("fpgainfo: no FPGA found\n")


def _xilinx(conf, host, tools, **usage):
    _u250(host, tools)
    tools.set("0000:65:00.0", usage=usage)
    driver = fpga_xilinx.XilinxFpgaDriver(conf, runner=tools.runner())
    (card,) = driver.discover()
    return driver, card


def test_xilinx_user_function_hwmon(conf, host, tools):
    driver, card = _xilinx(conf, host, tools)
    host.write(host.dev(USER) / "hwmon/hwmon7/name", "xocl")
    host.write(host.dev(USER) / "hwmon/hwmon7/power1_input", "31700000")
    host.write(host.dev(USER) / "hwmon/hwmon7/temp1_input", "47000")
    assert driver.sample([card]) == [
        base.Sample(
            card.stable_id, power_watts=31.7, temperature_celsius=47.0, function_loaded=True
        )
    ]
    assert tools.calls("xbutil") == []


def test_xilinx_xbutil_when_hwmon_is_silent(conf, host, tools):
    driver, card = _xilinx(conf, host, tools, watts=31.7, pcb_c=34, fpga_c=47)
    (s,) = driver.sample([card])
    assert (s.power_watts, s.temperature_celsius, s.function_loaded) == (31.7, 47.0, True)
    (call,) = tools.calls("xbutil")
    assert call[:8] == [
        "examine",
        "--device",
        USER,
        "--report",
        "electrical",
        "thermal",
        "--format",
        "JSON",
    ]


def test_xilinx_without_xclbin_and_with_a_failing_xbutil(conf, host, tools):
    driver, card = _xilinx(conf, host, tools)
    host.write(host.dev(USER) / "xclbinuuid", "00000000-0000-0000-0000-000000000000")
    tools.fail("xbutil", "rc:1")
    assert driver.sample([card]) == [base.Sample(card.stable_id, function_loaded=False)]
    assert [e.split(":")[0] for e in driver.errors] == ["xbutil"]


def test_parse_xbutil_fixtures():
    assert parse_xbutil(fixture_text("xbutil/electrical-thermal.json")) == {
        "0000:d8:00.1": Figures(power_watts=31.7, temperature_celsius=47.0)
    }
    # No sensor present: nothing is 0.
    assert parse_xbutil(fixture_text("xbutil/no-sensors.json")) == {"0000:3b:00.1": Figures()}
    with pytest.raises(ToolOutputError, match="devices list"):
        parse_xbutil("{}")
