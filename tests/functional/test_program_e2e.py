"""FPGA programming end to end on the all-in-one's simulated fleet: a bitstream uploaded to
the catalog, loaded through the API (200), through the CLI, and at bind by function; the
agent flashes it through the simulated driver, which reads the function back as the real
drivers do, and the deployable, the device's firmware and the ARQ follow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional import cli_support
from tests.functional.program_support import (
    bind_and_settle,
    firmware,
    send,
    traits,
    upload_bitstream,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

NLB = "d8424dc4-a4a3-c413-f89e-433683f9040b"
DMA = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
INTEL_PR = "eea1ca1a-5ae6-5f74-9bf0-75918177817c"  # the simulated N6001's PR interface


@pytest.fixture(scope="module")
def aio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with cli_support.running_aio(tmp_path_factory.mktemp("program-aio")) as base:
        yield base


def bitstream(base: str, version: str, function_id: str, **compat: Any) -> str:
    """Register and upload a simulated N6001 bitstream; returns its uuid."""
    header = f"CYBORG-LITE-SIMULATED-FIRMWARE component=bitstream version={version}"
    data = f"{header} function_id={function_id}\n".encode() + b"\0" * 4096
    return upload_bitstream(
        base,
        data,
        name=f"n6001-{function_id}",
        vendor="8086",
        device_id="bcce",
        version=version,
        function_id=function_id,
        **compat,
    )


def n6001(base: str, host: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The N6001 of ``host``: its device and its deployable."""
    _, devices = send(base, "GET", f"/v2/devices?hostname={host}")
    device = next(d for d in devices["devices"] if d["model"].startswith("Intel FPGA"))
    _, deployables = send(base, "GET", "/v2/deployables")
    # Deployables are named <host>_<driver's name>; the simulated one is <model key>-<n>.
    dep = next(d for d in deployables["deployables"] if d["name"] == f"{host}_intel-n6001-0")
    return device, dep


def test_program_loads_the_bitstream_and_the_deployable_follows(aio):
    device, dep = n6001(aio, "sim-host-01")
    assert firmware(aio, device["uuid"])["bitstream"] == "none"
    assert f"CUSTOM_FPGA_REGION_INTEL_{INTEL_PR.upper().replace('-', '_')}" in traits(dep)
    image = bitstream(aio, NLB, "nlb0", pr_interface_ids=[INTEL_PR])
    body = [{"path": "/program", "op": "replace", "value": [{"image_uuid": image}]}]
    status, programmed = send(aio, "PATCH", f"/v2/deployables/{dep['uuid']}/program", body)
    assert status == 200, programmed
    assert programmed["uuid"] == dep["uuid"]
    assert programmed["bitstream_id"] == image
    assert firmware(aio, device["uuid"])["bitstream"] == NLB

    def function_reported() -> bool:
        return "CUSTOM_FPGA_FUNCTION_ID_INTEL_NLB0" in traits(n6001(aio, "sim-host-01")[1])

    # The agent's next report carries the function the driver reads back.
    wait_for("the loaded function in the deployable's attributes", function_reported, 30)
    _, history = send(aio, "GET", f"/v2/devices/{device['uuid']}/firmware")
    assert [(j["component"], j["state"]) for j in history["history"]] == [
        ("bitstream", "succeeded")
    ]


def test_the_cli_programs_a_deployable_by_name_and_image_name(aio, tmp_path: Path):
    _, dep = n6001(aio, "sim-host-02")
    bitstream(aio, DMA, "dma1")
    osc = cli_support.Osc(aio, tmp_path / "home")
    shown = osc.json("deployable", "program", dep["name"], "n6001-dma1")
    assert shown["uuid"] == dep["uuid"]
    assert shown["bitstream_id"] is not None
    assert firmware(aio, n6001(aio, "sim-host-02")[0]["uuid"])["bitstream"] == DMA


def test_program_at_bind_loads_the_function_then_binds(aio):
    device, dep = n6001(aio, "sim-host-01")
    image = bitstream(aio, "11111111-2222-4333-8444-555555555555", "crc32")
    group = {"resources:FPGA": "1", "accel:function_id": "crc32"}
    status, _ = send(aio, "POST", "/v2/device_profiles", [{"name": "crc", "groups": [group]}])
    assert status == 201
    _, arqs = send(aio, "POST", "/v2/accelerator_requests", {"device_profile_name": "crc"})
    arq = arqs["arqs"][0]["uuid"]
    final = bind_and_settle(aio, arq, "sim-host-01", dep["rp_uuid"])
    assert (final["state"], final["error"]) == ("Bound", None)
    assert final["attach_handle_type"] == "PCI"
    assert firmware(aio, device["uuid"])["bitstream"] == "11111111-2222-4333-8444-555555555555"
    assert n6001(aio, "sim-host-01")[1]["bitstream_id"] == image
