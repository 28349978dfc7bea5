"""FPGA programming end to end on a fake-tool host: the real ``fpga_intel`` and ``fpga_xilinx``
drivers, in the all-in-one's local agent, read a fake sysfs tree (an Intel PAC N3000 and a
Xilinx U250) and load bitstreams with the fake ``fpgaconf`` and ``xbutil``
(tests/unit/drivers/fake_tools.py), which rewrite the tree's ``afu_id`` / ``xclbinuuid`` the
way a real partial reconfiguration does. The API, conductor, engine, agent job, image download
and the driver's read-back are all real; only the vendor tools and /sys are not.

The tests share one all-in-one and one card set and run in order: a load, a failed load on top
of it, an xclbin load, and a program at bind.
"""

from __future__ import annotations

import json
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
from tests.unit.drivers.fake_tools import STATE_ENV, FakeTools
from tests.unit.drivers.sysfs import FakeHost
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

HOST = "fake-tool-host"

N3000 = "0000:5e:00.0"
IFID = "a5d72a3c-c8b0-4939-912c-f715e5dc10ca"  # the N3000's PR interface id
AFU_FACTORY = "d8424dc4-a4a3-c413-f89e-433683f9040b"  # what the card runs at start
AFU_LOADED = "e1a2b3c4-0000-4000-8000-00000000beef"
AFU_REFUSED = "e1a2b3c4-0000-4000-8000-00000000dead"
AFU_AT_BIND = "e1a2b3c4-0000-4000-8000-00000000b1dd"
REGION = "fpga_region/region0"

MGMT = "0000:65:00.0"
USER = "0000:65:00.1"
XCLBIN_FACTORY = "7e1b4c55-0000-4000-8000-0000000000aa"
XCLBIN_LOADED = "7e1b4c55-0000-4000-8000-0000000000bb"


def _n3000(host: FakeHost, tools: FakeTools) -> None:
    """An N3000 on DFL whose port runs ``AFU_FACTORY``; the fake tools rewrite its afu_id."""
    host.pci(N3000, "8086", "0b30", "0x120000", driver="dfl-pci", numa_node=0, iommu_group=9)
    d = host.dev(N3000)
    afu_id = d / f"{REGION}/dfl-port.0/afu_id"
    host.write(d / f"{REGION}/dfl-fme.0/bitstream_id", "0x23000410010309")
    host.write(
        d / f"{REGION}/dfl-fme.0/dfl-fme-region.1/fpga_region/region1/compat_id",
        IFID.replace("-", ""),
    )
    host.write(afu_id, AFU_FACTORY.replace("-", ""))
    tools.add(
        N3000,
        "intel",
        {"fpga_shell": "0x23000410010309", "fpga_bmc": "D.2.1.24", "bitstream": AFU_FACTORY},
        platform="Intel PAC N3000",
        pr_interface_id=IFID,
        board="n3000",
        files={"bitstream": [str(afu_id), "nodash"]},
    )


def _u250(host: FakeHost, tools: FakeTools) -> None:
    """A U250: management function bound to xclmgmt, user function running an xclbin."""
    host.pci(
        MGMT,
        "10ee",
        "5004",
        "0x120000",
        driver="xclmgmt",
        numa_node=1,
        files={
            "rom.u.0/VBNV": "xilinx_u250_gen3x16_base_4",
            "xmc.u.0/bmc_ver": "4.6.20",
            "xmc.u.0/serial_num": "SYN21320000A",
            "board_name": "u250",
        },
    )
    host.pci(USER, "10ee", "5005", "0x120000", driver="xocl", files={"xclbinuuid": XCLBIN_FACTORY})
    tools.add(
        MGMT,
        "xilinx",
        {
            "fpga_shell": "xilinx_u250_gen3x16_base_4",
            "fpga_sc": "4.6.20",
            "bitstream": XCLBIN_FACTORY,
        },
        board="Alveo U250 XDMA",
        serial="SYN21320000A",
        user=USER,
        files={"bitstream": [str(host.dev(USER, "xclbinuuid")), "plain"]},
    )


def _drivers_conf(tools: FakeTools, sysfs_root: Path) -> str:
    """The local agent runs only the two FPGA drivers, on the tree and the fake tools (by
    absolute path, as an operator names a tool outside PATH)."""

    def tool(name: str, *args: str) -> str:
        return ",".join([str(tools.bin / name), *args])

    addr = ("--segment", "{segment}", "--bus", "{bus}", "--device", "{device}")
    return (
        f"[DEFAULT]\nhost = {HOST}\n"
        "[aio]\nsimulated_hosts = 0\nlocal_agent = true\n"
        f"[agent]\nenabled_drivers = fpga_intel,fpga_xilinx\nsysfs_root = {sysfs_root}\n"
        "job_report_delay = 0.2\n"  # the report after a load comes quickly
        f"[fpga_intel]\nfpgainfo = {tool('fpgainfo')}\n"
        f"fpgasupdate_command = {tool('fpgasupdate', '{image}', '{address}')}\n"
        f"fpgaconf_command = {tool('fpgaconf', *addr, '--function', '{function}', '{image}')}\n"
        f"[fpga_xilinx]\nxbmgmt = {tool('xbmgmt')}\n"
        "base_flash_command = "
        f"{tool('xbmgmt', 'program', '--device', '{address}', '--base', '--image', '{image}')}\n"
        "xclbin_command = "
        f"{tool('xbutil', 'program', '--device', '{address}', '--user', '{image}')}\n"
    )


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> FakeTools:
    return FakeTools(tmp_path_factory.mktemp("fake-tools"))


@pytest.fixture(scope="module")
def aio(tmp_path_factory: pytest.TempPathFactory, tools: FakeTools) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("program-fake-tools-aio")
    host = FakeHost(folder / "host")
    _n3000(host, tools)
    _u250(host, tools)
    # The fake tools find their shared state through this variable, which the agent's
    # CommandRunner passes on from the all-in-one's environment.
    env = {STATE_ENV: str(tools.state_path)}
    with cli_support.running_aio(
        folder, _drivers_conf(tools, host.root), env=env, devices=2
    ) as base:
        yield base


def register(base: str, vendor: str, device_id: str, version: str, **compat: Any) -> str:
    """Register and upload a bitstream image the fake tools accept; returns its uuid. The
    fake fpgaconf / xbutil load the ``version`` written in the file, so the catalog version
    and what the driver reads back after the load are the same id."""
    data = json.dumps({"version": version, "component": "bitstream"}).encode()
    name = f"{device_id}-{version[-4:]}"
    return upload_bitstream(
        base, data, name=name, vendor=vendor, device_id=device_id, version=version, **compat
    )


def card(base: str, address: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card at PCI ``address`` on the fake-tool host (one per vendor), and its (only)
    deployable."""
    vendor = {N3000: "8086", MGMT: "10ee"}[address]
    _, devices = send(base, "GET", f"/v2/devices?hostname={HOST}")
    device = next(d for d in devices["devices"] if d["vendor"] == vendor)
    _, deployables = send(base, "GET", "/v2/deployables")
    # Deployables are named <host>_<driver's name>; the drivers name them by address.
    name = f"{HOST}_{address.replace(':', '_').replace('.', '_')}"
    dep = next(d for d in deployables["deployables"] if d["name"] == name)
    return device, dep


def function_trait(afu: str) -> str:
    return f"CUSTOM_FPGA_FUNCTION_ID_INTEL_{afu.upper().replace('-', '_')}"


def program(base: str, dep_uuid: str, image: str) -> tuple[int, Any]:
    body = [{"path": "/program", "op": "replace", "value": [{"image_uuid": image}]}]
    return send(base, "PATCH", f"/v2/deployables/{dep_uuid}/program", body)


def test_fpgaconf_loads_the_afu_and_the_deployable_follows(aio, tools):
    device, dep = card(aio, N3000)
    assert firmware(aio, device["uuid"])["bitstream"] == AFU_FACTORY
    assert function_trait(AFU_FACTORY) in traits(dep)
    image = register(aio, "8086", "0b30", AFU_LOADED, pr_interface_ids=[IFID])
    status, programmed = program(aio, dep["uuid"], image)
    assert status == 200, programmed
    assert (programmed["uuid"], programmed["bitstream_id"]) == (dep["uuid"], image)
    assert firmware(aio, device["uuid"])["bitstream"] == AFU_LOADED
    # The agent ran the configured fpgaconf with the card's address split into its parts.
    # on the image it downloaded from the API (not a path the test wrote).
    ((argv),) = tools.calls("fpgaconf")
    *parts, image_path, lang = argv
    assert parts == [
        "--segment",
        "0x0000",
        "--bus",
        "0x5e",
        "--device",
        "0x00",
        "--function",
        "0x0",
    ]
    assert lang == "C"  # the runner's untranslated environment reached the tool
    # The image the agent downloaded from the API and checked, not a file the test wrote.
    assert Path(image_path).parent.parts[-2:] == ("agent-downloads", HOST)

    def loaded_function() -> set[str] | None:
        now = traits(card(aio, N3000)[1])
        return now if function_trait(AFU_LOADED) in now else None

    # The agent's next report carries the AFU id the driver read from the rewritten sysfs.
    now = wait_for("the loaded AFU in the deployable's attributes", loaded_function, 30)
    assert function_trait(AFU_FACTORY) not in now


def test_a_failed_fpgaconf_is_409_with_the_drivers_code_and_the_old_afu_stays(aio, tools):
    device, dep = card(aio, N3000)
    assert firmware(aio, device["uuid"])["bitstream"] == AFU_LOADED  # the previous test's load
    image = register(aio, "8086", "0b30", AFU_REFUSED, pr_interface_ids=[IFID])
    tools.fail("fpgaconf", "bad-image")  # "interface id mismatch", as a wrong-region .gbs gets
    try:
        status, body = program(aio, dep["uuid"], image)
    finally:
        tools.fail("fpgaconf", None)
    assert status == 409, body
    fault = json.loads(body["error_message"])["faultstring"]
    assert f"with image {image} failed (incompatible-image)" in fault
    assert "interface id mismatch" in fault  # the tool's own words, through the driver
    assert "keeps its previous function" in fault
    device, dep = card(aio, N3000)
    assert firmware(aio, device["uuid"])["bitstream"] == AFU_LOADED
    assert dep["bitstream_id"] != image
    assert function_trait(AFU_LOADED) in traits(dep)
    assert function_trait(AFU_REFUSED) not in traits(dep)


def test_xbutil_loads_the_xclbin_on_the_user_function(aio, tools):
    device, dep = card(aio, MGMT)
    assert firmware(aio, device["uuid"])["bitstream"] == XCLBIN_FACTORY
    image = register(aio, "10ee", "5004", XCLBIN_LOADED)
    status, programmed = program(aio, dep["uuid"], image)
    assert status == 200, programmed
    assert programmed["bitstream_id"] == image
    assert firmware(aio, device["uuid"])["bitstream"] == XCLBIN_LOADED
    # xbutil addresses the user function, not the management function the device is.
    ((argv),) = tools.calls("xbutil")
    assert argv[:4] == ["program", "--device", USER, "--user"]
    assert tools.read()["devices"][MGMT]["fw"]["bitstream"] == XCLBIN_LOADED


def test_program_at_bind_loads_the_afu_then_binds(aio, tools):
    device, dep = card(aio, N3000)
    image = register(aio, "8086", "0b30", AFU_AT_BIND, pr_interface_ids=[IFID])
    group = {"resources:FPGA": "1", "accel:bitstream_id": image}
    status, _ = send(aio, "POST", "/v2/device_profiles", [{"name": "afu", "groups": [group]}])
    assert status == 201
    _, arqs = send(aio, "POST", "/v2/accelerator_requests", {"device_profile_name": "afu"})
    arq = arqs["arqs"][0]["uuid"]
    final = bind_and_settle(aio, arq, HOST, dep["rp_uuid"])
    assert (final["state"], final["error"]) == ("Bound", None)
    assert (final["attach_handle_type"], final["attach_handle_info"]["bus"]) == ("PCI", "5e")
    assert firmware(aio, device["uuid"])["bitstream"] == AFU_AT_BIND
    assert card(aio, N3000)[1]["bitstream_id"] == image
    assert len(tools.calls("fpgaconf")) == 3  # the load, the refused one, the one at bind
