"""The simulated driver's usage: per-model load, jitter, weekly schedule, bound_usage, FPGAs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re

import pytest

from cyborg_lite.drivers import base
from cyborg_lite.drivers.simulated import SimulatedDriver
from cyborg_lite.drivers.simulated_usage import Window, parse_schedule, parse_usage
from tests.conftest import make_test_conf

GIB = 2**30
# A Wednesday and a Saturday in January (Europe/Berlin is UTC+1 then).
WED_10 = dt.datetime(2025, 1, 15, 10, 0, tzinfo=dt.UTC)
SAT_10 = dt.datetime(2025, 1, 18, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def conf(tmp_path):
    c = make_test_conf(str(tmp_path / "state"))
    c.set_override("host", "sim-a")
    c.set_override("devices", ["nvidia-h100:2", "amd-mi300x:1", "xilinx-u280:1"], group="simulated")
    c.set_override("usage_jitter", 0.0, group="simulated")
    return c


def _driver(conf, now=WED_10, seed=7):
    return SimulatedDriver(conf, now=lambda: now, usage_rng=random.Random(seed))


def _samples(driver, devices=None, **kw):
    devices = devices or driver.discover()
    return devices, driver.sample(devices, **kw)


def test_unconfigured_models_are_idle(conf):
    devices, samples = _samples(_driver(conf))
    h100, _, mi300x, u280 = samples
    assert h100 == base.Sample(devices[0].stable_id, None, 0.0, 0, 80 * GIB, 70.0, 32.0, 0)
    assert (mi300x.utilization_percent, mi300x.memory_total_bytes) == (0.0, 192 * GIB)
    # An FPGA with nothing loaded: power and temperature, no utilization, nothing in use.
    assert u280 == base.Sample(
        devices[3].stable_id,
        power_watts=25.0,
        temperature_celsius=35.0,
        function_loaded=False,
        in_use=False,
    )


def test_usage_scales_memory_power_temperature_and_processes(conf):
    conf.set_override("usage", ["nvidia-h100:85", "amd-mi300x:0"], group="simulated")
    devices, samples = _samples(_driver(conf))
    assert samples[0] == base.Sample(
        devices[0].stable_id, None, 85.0, int(80 * GIB * 0.85), 80 * GIB, 605.5, 71.1, 1
    )
    assert samples[1].utilization_percent == 85.0
    assert (samples[2].utilization_percent, samples[2].processes) == (0.0, 0)


def test_jitter_is_seeded_bounded_and_never_moves_zero(conf):
    conf.set_override("usage", ["nvidia-h100:85"], group="simulated")
    conf.set_override("usage_jitter", 2.0, group="simulated")
    first = _samples(_driver(conf, seed=1))[1]
    again = _samples(_driver(conf, seed=1))[1]
    other = _samples(_driver(conf, seed=2))[1]
    loads = [s.utilization_percent for s in first[:2]]
    assert first == again
    assert loads != [s.utilization_percent for s in other[:2]]
    assert all(83.0 <= x <= 87.0 for x in loads)
    assert loads != [85.0, 85.0]
    assert first[2].utilization_percent == 0.0  # the idle MI300X


@pytest.mark.parametrize(
    ("now", "busy"),
    [
        (WED_10, True),
        (SAT_10, False),
        (dt.datetime(2025, 1, 15, 8, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2025, 1, 15, 17, 59, tzinfo=dt.UTC), True),
        (dt.datetime(2025, 1, 15, 18, 0, tzinfo=dt.UTC), False),
    ],
)
def test_schedule_windows(conf, now, busy):
    conf.set_override("usage", ["nvidia-h100:85"], group="simulated")
    conf.set_override("usage_schedule", ["mon-fri 09:00-18:00"], group="simulated")
    h100 = _samples(_driver(conf, now=now))[1][0]
    assert h100.utilization_percent == (85.0 if busy else 0.0)
    assert h100.processes == (1 if busy else 0)


def test_schedule_in_a_time_zone(conf):
    conf.set_override("usage", ["nvidia-h100:85"], group="simulated")
    conf.set_override("usage_schedule", ["mon-fri 09:00-18:00"], group="simulated")
    conf.set_override("usage_timezone", "Europe/Berlin", group="simulated")
    at = dt.datetime(2025, 1, 15, 8, 30, tzinfo=dt.UTC)  # 09:30 in Berlin
    assert _samples(_driver(conf, now=at))[1][0].utilization_percent == 85.0
    at = dt.datetime(2025, 1, 15, 17, 30, tzinfo=dt.UTC)  # 18:30 in Berlin
    assert _samples(_driver(conf, now=at))[1][0].utilization_percent == 0.0


def test_overnight_and_wrapping_windows():
    (night,) = parse_schedule(["fri 22:00-06:00"])
    assert night.covers(4, 23 * 60)  # Friday 23:00
    assert night.covers(5, 3 * 60)  # Saturday 03:00
    assert not night.covers(5, 7 * 60)
    assert not night.covers(3, 3 * 60)  # Thursday night is not Friday's
    (weekend,) = parse_schedule(["Sat-Mon 00:00-24:00"])
    assert weekend == Window(frozenset({5, 6, 0}), 0, 24 * 60)


def test_bound_usage_shows_allocated_but_idle(conf):
    conf.set_override("usage", ["nvidia-h100:85"], group="simulated")
    driver = _driver(conf)
    devices = driver.discover()
    bound = frozenset({devices[0].stable_id})
    # Unset: a bound device follows its model's figure like any other.
    assert [s.utilization_percent for s in driver.sample(devices, allocated=bound)[:2]] == [
        85.0,
        85.0,
    ]
    conf.set_override("bound_usage", 0.0, group="simulated")
    first, second = driver.sample(devices, allocated=bound)[:2]
    assert (first.utilization_percent, first.processes, first.memory_used_bytes) == (0.0, 0, 0)
    assert second.utilization_percent == 85.0


def test_bound_usage_can_make_a_bound_idle_model_busy(conf):
    conf.set_override("bound_usage", 60.0, group="simulated")
    driver = _driver(conf)
    devices = driver.discover()
    samples = driver.sample(devices, allocated=frozenset({devices[2].stable_id}))
    assert [s.utilization_percent for s in samples[:3]] == [0.0, 0.0, 60.0]


def _with_bitstream(device, version):
    firmware = tuple(
        dataclasses.replace(f, version=version) if f.component == "bitstream" else f
        for f in device.firmware
    )
    return dataclasses.replace(device, firmware=firmware)


def test_an_fpga_runs_only_while_a_bitstream_is_loaded(conf):
    conf.set_override("usage", ["xilinx-u280:40"], group="simulated")
    driver = _driver(conf)
    u280 = driver.discover()[3]
    (empty,) = driver.sample([u280])
    assert (empty.utilization_percent, empty.processes, empty.power_watts) == (None, None, 25.0)
    assert (empty.function_loaded, empty.in_use) == (False, False)
    (running,) = driver.sample([_with_bitstream(u280, "7e1b4c55-0000-4000-8000-0000000000aa")])
    assert running == base.Sample(
        u280.stable_id,
        utilization_percent=40.0,
        power_watts=105.0,
        temperature_celsius=53.0,
        processes=1,
        function_loaded=True,
        in_use=True,
    )
    conf.set_override("usage_schedule", ["sun 00:00-01:00"], group="simulated")
    (idle,) = driver.sample([_with_bitstream(u280, "7e1b4c55-0000-4000-8000-0000000000aa")])
    assert (idle.utilization_percent, idle.function_loaded, idle.in_use) == (0.0, True, False)


def test_a_device_of_another_catalog_is_unknown(conf):
    stranger = base.Device("x", "GPU", "10de", "Some Other GPU", "simulated")
    assert _driver(conf).sample([stranger]) == [base.Sample("x")]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("usage", ["nvidia-h200:50"], "'nvidia-h200:50': unknown simulated model 'nvidia-h200'"),
        ("usage", ["nvidia-h100:101"], "'nvidia-h100:101': expected MODEL:PERCENT"),
        ("usage", ["nvidia-h100:busy"], "'nvidia-h100:busy': expected MODEL:PERCENT"),
        ("usage", ["nvidia-h100"], "'nvidia-h100': expected MODEL:PERCENT"),
        ("usage_schedule", ["mon-fri 9-18"], "'mon-fri 9-18': expected DAYS HH:MM-HH:MM"),
        ("usage_schedule", ["mo-fr 09:00-18:00"], "'mo-fr 09:00-18:00': expected DAYS"),
        ("usage_schedule", ["xyz 09:00-18:00"], "'xyz 09:00-18:00': days are mon"),
        ("usage_schedule", ["mon 09:00-24:30"], "'mon 09:00-24:30': times are 00:00 to 24:00"),
        ("usage_schedule", ["mon 09:00-09:00"], "the window is empty"),
        ("usage_timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_options_are_errors_naming_the_item(conf, option, value, message):
    conf.set_override(option, value, group="simulated")
    driver = _driver(conf)
    devices = driver.discover()
    with pytest.raises(ValueError, match=f"^\\[simulated\\] {option}: .*{re.escape(message)}"):
        driver.sample(devices)


def test_parse_usage_accepts_the_bounds():
    assert parse_usage(["nvidia-t4:0", "amd-mi210:100", " nvidia-a100:12.5 "]) == {
        "nvidia-t4": 0.0,
        "amd-mi210": 100.0,
        "nvidia-a100": 12.5,
    }
