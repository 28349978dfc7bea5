"""The Xilinx Alveo driver: XRT sysfs, xbmgmt JSON variants, base flash and xclbin loads."""

from __future__ import annotations

import pytest

from cyborg_lite.drivers import base, fpga_xilinx
from cyborg_lite.drivers.fpga_xilinx_sources import parse_xbmgmt
from cyborg_lite.drivers.host import ToolOutputError
from tests.unit.drivers.conftest import fixture_text

MGMT = "0000:65:00.0"
USER = "0000:65:00.1"
SHELL = "xilinx_u250_gen3x16_base_4"
NEW_SHELL = "xilinx_u250_gen3x16_base_5"
XCLBIN = "7e1b4c55-0000-4000-8000-0000000000aa"
XCLBIN2 = "7e1b4c55-0000-4000-8000-0000000000bb"


def _u250(host, tools, *, xclbin=XCLBIN):
    host.pci(
        MGMT,
        "10ee",
        "5004",
        "0x120000",
        driver="xclmgmt",
        numa_node=1,
        files={
            "rom.u.0/VBNV": SHELL,
            "xmc.u.0/bmc_ver": "4.6.20",
            "xmc.u.0/serial_num": "SYN21320000A",
            "board_name": "u250",
            "interface_uuids": "6a8f3b0c0000000000000000000000bb",
        },
    )
    host.pci(USER, "10ee", "5005", "0x120000", driver="xocl", files={"xclbinuuid": xclbin})
    tools.add(
        MGMT,
        "xilinx",
        {"fpga_shell": SHELL, "fpga_sc": "4.6.20", "bitstream": xclbin},
        board="Alveo U250 XDMA",
        serial="SYN21320000A",
        user=USER,
        files={
            "bitstream": [str(host.dev(USER, "xclbinuuid")), "plain"],
            "fpga_shell": [str(host.dev(MGMT, "rom.u.0/VBNV")), "plain"],
        },
    )


def test_u250_inventory(conf, host, tools):
    _u250(host, tools)
    (card,) = fpga_xilinx.XilinxFpgaDriver(conf, runner=tools.runner()).discover()
    assert card == base.Device(
        stable_id="SYN21320000A",
        type="FPGA",
        vendor="10ee",
        model="Alveo U250 XDMA",
        driver="fpga_xilinx",
        pci_address=MGMT,
        std_board_info={
            "vendor_id": "10ee",
            "product_id": "5004",
            "controller": "Processing accelerators",
            "class_code": "1200",
            "subsystem_vendor_id": "10ee",
            "subsystem_device_id": "0000",
            "kernel_driver": "xclmgmt",
        },
        vendor_board_info={
            "source": "xbmgmt",
            "serial": "SYN21320000A",
            "interface_uuid": "6a8f3b0c0000000000000000000000bb",
            "golden": "false",
            "user_address": USER,
        },
        numa_node=1,
        deployables=(
            base.Deployable(
                name="0000_65_00_0",
                resource_class="FPGA",
                traits=("OWNER_CYBORG", "CUSTOM_FPGA_XILINX", "CUSTOM_FPGA_PRODUCT_ID_5004"),
                attach_handles=(base.AttachHandle("PCI", USER),),
                attributes={"mgmt_address": MGMT, "xclbin_uuid": XCLBIN},
            ),
        ),
        firmware=(
            base.FirmwareComponent("fpga_shell", SHELL, True, "power_cycle"),
            base.FirmwareComponent("fpga_sc", "4.6.20", False, "power_cycle"),
            base.FirmwareComponent("bitstream", XCLBIN, True, "live"),
        ),
    )
    ((argv),) = tools.calls("xbmgmt")
    assert argv[:8] == [
        "examine",
        "--device",
        MGMT,
        "--report",
        "platform",
        "--format",
        "JSON",
        "--output",
    ]


def test_sysfs_only_and_unknown_id_bound_to_xclmgmt(conf, host, tools):
    tools.remove("xbmgmt")
    host.pci(
        "0000:17:00.0",
        "10ee",
        "6987",
        "0x058000",
        driver="xclmgmt",
        files={"rom.m.0/VBNV": "xilinx_u55c_gen3x16_xdma_base_3"},
    )
    host.pci(
        "0000:17:00.1",
        "10ee",
        "6988",
        "0x058000",
        driver="xocl",
        files={"xclbinuuid": "00000000-0000-0000-0000-000000000000"},
    )
    host.pci("0000:18:00.0", "10ee", "9038", "0x058000")  # a custom design: not an Alveo
    driver = fpga_xilinx.XilinxFpgaDriver(conf, runner=tools.runner())
    (card,) = driver.discover()
    assert (card.pci_address, card.model, card.stable_id) == (
        "0000:17:00.0",
        "Alveo 6987",
        "0000:17:00.0",
    )
    assert card.vendor_board_info == {
        "source": "sysfs",
        "golden": "false",
        "user_address": "0000:17:00.1",
    }
    assert [(c.component, c.version) for c in card.firmware] == [
        ("fpga_shell", "xilinx_u55c_gen3x16_xdma_base_3"),
        ("bitstream", "none"),
    ]
    assert driver.errors[0].startswith("xbmgmt: xbmgmt is not installed")


def test_parse_platform_shape():
    card = parse_xbmgmt(fixture_text("xbmgmt/platform.json"))[MGMT]
    assert (card.shell, card.shell_id, card.sc_version, card.serial, card.board, card.golden) == (
        SHELL,
        "0x5d1211e8",
        "4.6.20",
        "SYN21320000A",
        "Alveo U250 XDMA",
        False,
    )
    assert (card.logic_uuid, card.interface_uuid) == (
        "1b6b8e0e-0000-0000-0000-0000000000aa",
        "6a8f3b0c-0000-0000-0000-0000000000bb",
    )


def test_parse_platforms_shape_with_expected_sc(conf, host, tools):
    card = parse_xbmgmt(fixture_text("xbmgmt/platforms.json"))[MGMT]
    assert (card.shell, card.sc_version, card.sc_expected, card.serial, card.board) == (
        SHELL,
        "4.6.20",
        "4.6.21",
        "SYN21320000A",
        "Alveo U250",
    )


def test_parse_golden_and_missing_sc():
    golden = parse_xbmgmt(fixture_text("xbmgmt/golden.json"))[MGMT]
    assert (golden.shell, golden.golden) == ("xilinx_u250_GOLDEN_5", True)
    bare = parse_xbmgmt(fixture_text("xbmgmt/missing-sc.json"))[MGMT]
    assert (bare.shell, bare.sc_version, bare.serial) == (
        "xilinx_u280_gen3x16_xdma_base_1",
        None,
        None,
    )


@pytest.mark.parametrize("text", ["{", "[1, 2]"])
def test_parse_garbage(text):
    with pytest.raises(ToolOutputError, match=r"^xbmgmt: "):
        parse_xbmgmt(text)
    assert parse_xbmgmt('{"devices": "none"}') == {}


@pytest.fixture
def u250(conf, host, tools):
    _u250(host, tools)
    driver = fpga_xilinx.XilinxFpgaDriver(conf, runner=tools.runner())
    return driver, driver.discover()[0]


def test_base_flash_needs_cold_reboot(u250, tools, tmp_path):
    driver, card = u250
    image = tools.image(tmp_path / "base.deb", NEW_SHELL)
    result = driver.flash(card, "fpga_shell", image, 10, expected_version=NEW_SHELL)
    assert (result.ok, result.activation_pending, result.version) == (True, True, SHELL)
    assert result.message == f"fpga_shell written ({NEW_SHELL}); active after a power cycle"
    assert "Cold reboot machine" in result.log_tail
    program = [c for c in tools.calls("xbmgmt") if c[0] == "program"]
    assert program == [["program", "--device", MGMT, "--base", "--image", image, "C"]]
    tools.activate(MGMT)
    assert base.verify_activation(driver.discover()[0], "fpga_shell", NEW_SHELL).ok


def test_base_flash_already_current_is_not_pending(u250, tools, tmp_path):
    driver, card = u250
    result = driver.flash(card, "fpga_shell", tools.image(tmp_path / "b", SHELL), 10)
    assert (result.ok, result.activation_pending, result.version) == (True, False, SHELL)


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("mid-flash", "hw-error"),
        ("failed-rc0", "hw-error"),  # "[FAILED]" printed with exit status 0
        ("bad-image", "incompatible-image"),
        ("busy", "busy"),
    ],
)
def test_base_flash_failures(u250, tools, tmp_path, mode, code):
    driver, card = u250
    tools.fail("xbmgmt", mode)
    result = driver.flash(card, "fpga_shell", tools.image(tmp_path / "b", NEW_SHELL), 10)
    assert (result.ok, result.error_code) == (False, code)


def test_sc_is_not_flashed_alone(u250, tools, tmp_path):
    driver, card = u250
    result = driver.flash(card, "fpga_sc", tools.image(tmp_path / "sc", "4.7"), 10)
    assert result.error_code == "unsupported"


def test_xclbin_load_is_live_on_the_user_function(u250, tools, tmp_path):
    driver, card = u250
    image = tools.image(tmp_path / "k.xclbin", XCLBIN2)
    result = driver.flash(card, "bitstream", image, 10, expected_version=XCLBIN2)
    assert (result.ok, result.activation_pending, result.version) == (True, False, XCLBIN2)
    assert tools.calls("xbutil") == [["program", "--device", USER, "--user", image, "C"]]


def test_xclbin_hang_and_unchanged(u250, tools, tmp_path):
    driver, card = u250
    image = tools.image(tmp_path / "k.xclbin", XCLBIN2)
    tools.fail("xbutil", "unchanged")
    stale = driver.flash(card, "bitstream", image, 10, expected_version=XCLBIN2)
    assert (stale.ok, stale.error_code) == (False, "verify-mismatch")
    tools.fail("xbutil", "hang")
    assert driver.flash(card, "bitstream", image, 0.5).error_code == "timeout"
