"""``/metrics``' usage gauges from SQL: per device, labelled with uuid, host, vendor and model,
no sample for a figure the source cannot give, idle seconds, and the fleet's idle counts."""

from __future__ import annotations

import pytest

from tests import personas
from tests.functional import usage_support as us


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def labels(device, hostname, vendor="10de", model="NVIDIA H100 80GB HBM3"):
    uuid = device["device_uuid"]
    return f'{{device_uuid="{uuid}",hostname="{hostname}",vendor="{vendor}",model="{model}"}}'


@pytest.fixture
def scraped(client, db):
    fleet = us.fleet(db, us.aligned_now())
    result = client.simulate_get("/metrics", headers={})
    assert result.status_code == 200
    return fleet, result.text, samples(result.text)


def test_per_device_gauges_carry_the_latest_figures(scraped):
    fleet, text, got = scraped
    busy = labels(fleet["busy"], "node1")
    assert got[f"cyborg_lite_device_utilization_ratio{busy}"] == 0.9
    assert got[f"cyborg_lite_device_memory_used_bytes{busy}"] == 1024
    assert got[f"cyborg_lite_device_power_watts{busy}"] == 100.0
    assert got[f"cyborg_lite_device_temperature_celsius{busy}"] == 50.0
    assert got[f"cyborg_lite_device_idle_seconds{busy}"] == 0
    idle = labels(fleet["idle"], "node1")
    assert got[f"cyborg_lite_device_utilization_ratio{idle}"] == 0.01
    assert got[f"cyborg_lite_device_idle_seconds{idle}"] >= 3 * 3600
    for gauge in ("utilization_ratio", "memory_used_bytes", "power_watts", "idle_seconds"):
        assert f"# TYPE cyborg_lite_device_{gauge} gauge" in text


def test_a_figure_the_source_cannot_give_has_no_sample(scraped):
    fleet, text, got = scraped
    blind = labels(fleet["blind"], "node1")
    assert not [name for name in got if blind in name]
    quiet = labels(fleet["quiet"], "node2", "8086", "PAC N3000")
    assert f"cyborg_lite_device_power_watts{quiet}" not in got
    assert got[f"cyborg_lite_device_utilization_ratio{quiet}"] == 0.0
    assert fleet["never"]["device_uuid"] not in text


def test_fleet_gauges_of_idle_and_allocated_idle_devices(scraped):
    _fleet, _text, got = scraped
    assert got['cyborg_lite_devices_idle{model="NVIDIA H100 80GB HBM3"}'] == 1
    assert got['cyborg_lite_devices_idle{model="PAC N3000"}'] == 1
    allocated = {k: v for k, v in got.items() if k.startswith("cyborg_lite_devices_allocated")}
    # [usage] allocated_idle_after is an hour: the FPGA idle for 30 minutes is not counted.
    assert allocated == {
        "cyborg_lite_devices_allocated_idle"
        f'{{model="NVIDIA H100 80GB HBM3",project_id="{personas.PROJECT_A}"}}': 1
    }


def test_the_counts_are_still_there(scraped):
    _fleet, _text, got = scraped
    assert got['cyborg_lite_devices{type="GPU",host_state="up"}'] == 3
    assert got['cyborg_lite_arqs{state="Bound"}'] == 3
