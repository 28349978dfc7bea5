"""The Intel FPGA driver: DFL and legacy sysfs, fpgainfo variants, fpgasupdate and fpgaconf."""

from __future__ import annotations

import re

import pytest

from cyborg_lite.agent import discovery
from cyborg_lite.drivers import base, fpga_intel
from cyborg_lite.drivers.fpga_intel_sources import parse_fpgainfo
from cyborg_lite.drivers.host import ToolOutputError
from tests.unit.drivers.conftest import fixture_text

N3000 = "0000:5e:00.0"
N6001 = "0000:b1:00.0"
PAC = "0000:3b:00.0"
IFID = "a5d72a3c-c8b0-4939-912c-f715e5dc10ca"
AFU = "d8424dc4-a4a3-c413-f89e-433683f9040b"
AFU2 = "e1a2b3c4-0000-4000-8000-00000000beef"
REGION = "fpga_region/region0"


def _dfl(host, address, *, bitstream, ifid, afu, bmc=None):
    d = host.dev(address)
    files = {
        f"{REGION}/dfl-fme.0/bitstream_id": bitstream,
        f"{REGION}/dfl-fme.0/dfl-fme-region.1/fpga_region/region1/compat_id": ifid.replace("-", ""),
        f"{REGION}/dfl-port.0/afu_id": afu.replace("-", ""),
    }
    if bmc:
        files[
            f"{REGION}/dfl-fme.0/dfl_dev.1/spi_master/spi0/spi0.0/"
            "intel-m10-bmc.0.auto/bmcfw_version"
        ] = bmc
    for rel, value in files.items():
        host.write(d / rel, value)
    return d


def _n3000(host, tools):
    host.pci(N3000, "8086", "0b30", "0x120000", driver="dfl-pci", numa_node=0, iommu_group=9)
    host.pci("0000:5f:00.0", "8086", "0d58", "0x020000", driver="i40e")  # companion NIC
    d = _dfl(host, N3000, bitstream="0x23000410010309", ifid=IFID, afu=AFU, bmc="0x2010218")
    tools.add(
        N3000,
        "intel",
        {"fpga_shell": "0x23000410010309", "fpga_bmc": "D.2.1.24", "bitstream": AFU},
        platform="Intel PAC N3000",
        pr_interface_id=IFID,
        board="n3000",
        files={
            "bitstream": [str(d / f"{REGION}/dfl-port.0/afu_id"), "nodash"],
            "fpga_shell": [str(d / f"{REGION}/dfl-fme.0/bitstream_id"), "plain"],
        },
    )


def test_n3000_inventory(conf, host, tools):
    _n3000(host, tools)
    (card,) = fpga_intel.IntelFpgaDriver(conf, runner=tools.runner()).discover()
    assert card == base.Device(
        stable_id=N3000,
        type="FPGA",
        vendor="8086",
        model="Intel PAC N3000",
        driver="fpga_intel",
        pci_address=N3000,
        std_board_info={
            "vendor_id": "8086",
            "product_id": "0b30",
            "controller": "Processing accelerators",
            "class_code": "1200",
            "subsystem_vendor_id": "8086",
            "subsystem_device_id": "0000",
            "kernel_driver": "dfl-pci",
            "iommu_group": "9",
        },
        vendor_board_info={
            "source": "sysfs+fpgainfo",
            "bmc_build": "D.2.1.24",
            "boot_page": "user1",
        },
        numa_node=0,
        deployables=(
            base.Deployable(
                name="0000_5e_00_0",
                resource_class="FPGA",
                traits=(
                    "OWNER_CYBORG",
                    "CUSTOM_FPGA_INTEL",
                    "CUSTOM_FPGA_INTEL_PAC_N3000",
                    "CUSTOM_FPGA_REGION_INTEL_A5D72A3C_C8B0_4939_912C_F715E5DC10CA",
                    "CUSTOM_FPGA_FUNCTION_ID_INTEL_D8424DC4_A4A3_C413_F89E_433683F9040B",
                ),
                attach_handles=(base.AttachHandle("PCI", N3000),),
                attributes={"pr_interface_id": IFID, "afu_id": AFU},
            ),
        ),
        firmware=(
            base.FirmwareComponent("fpga_shell", "0x23000410010309", True, "reboot"),
            base.FirmwareComponent("fpga_bmc", "D.2.1.24", True, "power_cycle"),
            base.FirmwareComponent("bitstream", AFU, True, "live"),
        ),
    )
    assert tools.calls("fpgainfo") == [["fme", "C"]]


def test_n6001_vfs_and_subsystem_product(conf, host, tools):
    tools.remove("fpgainfo")
    host.pci(N6001, "8086", "bcce", "0x120000", subsystem_device="1771", driver="dfl-pci")
    _dfl(host, N6001, bitstream="0x50102022267a9ed", ifid=IFID, afu="0" * 32)
    host.pci("0000:b1:00.1", "8086", "bccf", "0x120000", physfn=N6001, driver="vfio-pci")
    host.pci("0000:b1:00.2", "8086", "bccf", "0x120000", physfn=N6001, driver="vfio-pci")
    driver = fpga_intel.IntelFpgaDriver(conf, runner=tools.runner())
    (card,) = driver.discover()
    assert (card.model, card.vendor_board_info) == ("Intel N6001", {"source": "sysfs"})
    assert [(d.name, d.attach_handles[0].pci_address) for d in card.deployables] == [
        ("0000_b1_00_0_vf0", "0000:b1:00.1"),
        ("0000_b1_00_0_vf1", "0000:b1:00.2"),
    ]
    # An empty port: no function trait, bitstream "none", no BMC without fpgainfo or sysfs.
    assert card.deployables[0].traits[-1].startswith("CUSTOM_FPGA_REGION_INTEL_")
    assert [(c.component, c.version) for c in card.firmware] == [
        ("fpga_shell", "0x50102022267a9ed"),
        ("bitstream", "none"),
    ]
    assert driver.errors == [f"fpgainfo: fpgainfo is not installed (searched {str(tools.bin)!r})"]


def test_legacy_opae_layout(conf, host, tools):
    host.pci(
        PAC,
        "8086",
        "09c4",
        "0x120000",
        driver="intel-fpga-pci",
        files={
            "fpga/intel-fpga-dev.0/intel-fpga-fme.0/bitstream_id": "0x10020000000000",
            "fpga/intel-fpga-dev.0/intel-fpga-fme.0/pr/interface_id": IFID,
            "fpga/intel-fpga-dev.0/intel-fpga-port.0/afu_id": AFU.replace("-", ""),
        },
    )
    host.write(
        host.dev(PAC, "fpga/intel-fpga-dev.0/intel-fpga-fme.0/max10/bmcfw_version"), "0x2010218"
    )
    tools.fail("fpgainfo", "garbage")
    (card,) = fpga_intel.IntelFpgaDriver(conf, runner=tools.runner()).discover()
    # Without fpgainfo the BMC version is sysfs's raw register.
    assert [(c.component, c.version) for c in card.firmware] == [
        ("fpga_shell", "0x10020000000000"),
        ("fpga_bmc", "0x2010218"),
        ("bitstream", AFU),
    ]
    assert card.model == "Intel PAC Arria10"
    assert "CUSTOM_FPGA_INTEL_PAC_ARRIA10" in card.deployables[0].traits
    assert card.deployables[0].attributes == {"pr_interface_id": IFID, "afu_id": AFU}


def test_no_cards_runs_no_tool(conf, host, tools):
    host.pci("0000:00:1f.0", "8086", "a1c1", "0x060100")
    assert fpga_intel.IntelFpgaDriver(conf, runner=tools.runner()).discover() == []
    assert tools.calls("fpgainfo") == []


def test_listed_card_carries_its_physical_network(conf, host, tools):
    _n3000(host, tools)
    host.pci(PAC, "8086", "09c4", "0x120000", driver="dfl-pci")
    _dfl(host, PAC, bitstream="0x10020000000000", ifid=IFID, afu=AFU)
    conf.set_override("physical_networks", [f" {N3000} = physnet1 "], "fpga_intel")
    cards = fpga_intel.IntelFpgaDriver(conf, runner=tools.runner()).discover()
    handles = {c.pci_address: [h for d in c.deployables for h in d.attach_handles] for c in cards}
    assert handles == {
        N3000: [base.AttachHandle("PCI", N3000, {"physical_network": "physnet1"})],
        PAC: [base.AttachHandle("PCI", PAC)],  # not listed: no port, no network
    }


def test_physical_network_reaches_every_vf_of_a_listed_card(conf, host, tools):
    tools.remove("fpgainfo")
    host.pci(N6001, "8086", "bcce", "0x120000", subsystem_device="1771", driver="dfl-pci")
    _dfl(host, N6001, bitstream="0x50102022267a9ed", ifid=IFID, afu="0" * 32)
    for vf in ("0000:b1:00.1", "0000:b1:00.2"):
        host.pci(vf, "8086", "bccf", "0x120000", physfn=N6001, driver="vfio-pci")
    conf.set_override("physical_networks", [f"{N6001}=phys.net:2"], "fpga_intel")
    (card,) = fpga_intel.IntelFpgaDriver(conf, runner=tools.runner()).discover()
    assert [(h.pci_address, h.extra) for d in card.deployables for h in d.attach_handles] == [
        ("0000:b1:00.1", {"physical_network": "phys.net:2"}),
        ("0000:b1:00.2", {"physical_network": "phys.net:2"}),
    ]


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("0000:5e:00.0", "is not PCI_ADDRESS=PHYSNET"),
        ("5e:00.0=physnet1", "not a canonical PCI address (dddd:bb:dd.f, here 0000:5e:00.0)"),
        ("0000:5E:00.0=physnet1", "here 0000:5e:00.0"),
        ("nic0=physnet1", "'nic0' is not a canonical PCI address (dddd:bb:dd.f)"),
        ("0000:5e:00.0=", "'' is not a physical network name"),
        ("0000:5e:00.0=phys net", "'phys net' is not a physical network name"),
        (f"0000:5e:00.0={'p' * 65}", "is not a physical network name"),
    ],
)
def test_bad_physical_networks_item_is_an_error_naming_it(item, says):
    prefix = re.escape(f"[fpga_intel] physical_networks: {item!r}")
    with pytest.raises(ValueError, match=f"^{prefix}") as err:
        fpga_intel.parse_physical_networks([f"{PAC}=physnet1", item])
    assert says in str(err.value)


def test_one_card_cannot_have_two_networks():
    assert fpga_intel.parse_physical_networks([f"{N3000}=a", f"{N3000}=a"]) == {N3000: "a"}
    with pytest.raises(ValueError, match=f"{N3000}=b.*already has 'a'"):
        fpga_intel.parse_physical_networks([f"{N3000}=a", f"{N3000}=b"])


def test_bad_physical_networks_is_a_driver_error_not_a_crash(conf, host, tools):
    """The agent's isolated discovery turns it into this driver's error naming the item (the
    conductor then keeps the cards as last reported), and no tool was run for nothing."""
    _n3000(host, tools)
    conf.set_override("physical_networks", [f"{N3000}=bad net"], "fpga_intel")
    found = discovery.run([fpga_intel.IntelFpgaDriver(conf, runner=tools.runner())], 10)
    assert found.devices == []
    assert found.errors == [
        discovery.DriverError(
            "fpga_intel",
            f"ValueError: [fpga_intel] physical_networks: '{N3000}=bad net': 'bad net' is not "
            "a physical network name (1 to 64 of A-Z, a-z, 0-9, '_', '.', ':', '-')",
        )
    ]
    assert tools.calls("fpgainfo") == []


def test_parse_fpgainfo_n3000_old_lines():
    card = parse_fpgainfo(fixture_text("fpgainfo/n3000.txt"))[N3000]
    assert (card.bitstream_id, card.bitstream_version, card.pr_interface_id) == (
        "0x23000410010309",
        "0.2.3",
        IFID,
    )
    assert (card.bmc_version, card.bmc_build, card.boot_page, card.platform) == (
        "D.2.1.24",
        "D.2.0.7",
        "user",
        None,
    )


def test_parse_fpgainfo_n6001_decimal_id_and_upper_case():
    card = parse_fpgainfo(fixture_text("fpgainfo/n6001.txt"))[N6001]
    assert card.bitstream_id == "0x5010202c07f2faf"
    assert int(card.bitstream_id, 16) == 360571656009101231
    assert (card.platform, card.bmc_version, card.boot_page) == (
        "Intel Acceleration Development Platform N6001",
        "3.15.0",
        "user1",
    )


def test_parse_fpgainfo_bmc_errors_and_two_cards():
    card = parse_fpgainfo(fixture_text("fpgainfo/bmc-error.txt"))[N6001]
    assert (card.bmc_version, card.bitstream_id, card.boot_page) == (
        None,
        "0x50102022267a9ed",
        None,
    )
    cards = parse_fpgainfo(fixture_text("fpgainfo/two-cards.txt"))
    assert {a: (c.bmc_version, c.bitstream_version) for a, c in cards.items()} == {
        N6001: ("3.15.0", "5.0.1"),
        "0000:ca:00.0": ("3.11.0", "5.0.0"),
    }


def test_parse_fpgainfo_garbage():
    with pytest.raises(ToolOutputError, match=r"^fpgainfo: no card"):
        parse_fpgainfo("Segmentation fault\n")
    assert parse_fpgainfo("") == {}


@pytest.fixture
def n3000(conf, host, tools):
    _n3000(host, tools)
    driver = fpga_intel.IntelFpgaDriver(conf, runner=tools.runner())
    return driver, driver.discover()[0]


def test_fpgaconf_loads_live(n3000, tools, tmp_path):
    driver, card = n3000
    image = tools.image(tmp_path / "afu.gbs", AFU2)
    result = driver.flash(card, "bitstream", image, 10, expected_version=AFU2.replace("-", ""))
    assert (result.ok, result.activation_pending, result.version) == (True, False, AFU2)
    assert tools.calls("fpgaconf") == [
        [
            "--segment",
            "0x0000",
            "--bus",
            "0x5e",
            "--device",
            "0x00",
            "--function",
            "0x0",
            image,
            "C",
        ],
    ]
    assert driver.discover()[0].deployables[0].attributes["afu_id"] == AFU2


@pytest.mark.parametrize(
    ("mode", "code", "says"),
    [
        ("bad-image", "incompatible-image", "interface id mismatch"),
        ("busy", "busy", "port is in use"),
        ("mid-flash", "hw-error", "PR failed"),
    ],
)
def test_fpgaconf_failures(n3000, tools, tmp_path, mode, code, says):
    driver, card = n3000
    tools.fail("fpgaconf", mode)
    result = driver.flash(card, "bitstream", tools.image(tmp_path / "a.gbs", AFU2), 10)
    assert (result.ok, result.error_code) == (False, code)
    assert says in result.message


def test_fpgaconf_unchanged_is_verify_mismatch(n3000, tools, tmp_path):
    driver, card = n3000
    tools.fail("fpgaconf", "unchanged")
    result = driver.flash(
        card, "bitstream", tools.image(tmp_path / "a.gbs", AFU2), 10, expected_version=AFU2
    )
    assert (result.ok, result.error_code, result.version) == (False, "verify-mismatch", None)
    assert f"reads '{AFU}'" in result.message


@pytest.mark.parametrize(
    ("component", "activation"), [("fpga_bmc", "power cycle"), ("fpga_shell", "reboot")]
)
def test_fpgasupdate_is_staged(n3000, tools, tmp_path, component, activation):
    driver, card = n3000
    image = tools.image(tmp_path / "u.bin", "0x23000410010310", component=component)
    result = driver.flash(card, component, image, 10, expected_version="0x23000410010310")
    assert (result.ok, result.activation_pending) == (True, True)
    assert result.message.endswith(f"active after a {activation}")
    assert "Secure update OK" in result.log_tail
    assert tools.calls("fpgasupdate") == [[image, N3000, "C"]]
    tools.activate(N3000)
    if component == "fpga_shell":  # the FIM id is in sysfs; the fake rewrote it
        assert base.verify_activation(driver.discover()[0], component, "0x23000410010310").ok


@pytest.mark.parametrize(
    ("mode", "code"),
    [("busy", "busy"), ("bad-image", "incompatible-image"), ("mid-flash", "hw-error")],
)
def test_fpgasupdate_failures(n3000, tools, tmp_path, mode, code):
    driver, card = n3000
    tools.fail("fpgasupdate", mode)
    image = tools.image(tmp_path / "u.bin", "x", component="fpga_shell")
    assert driver.flash(card, "fpga_shell", image, 10).error_code == code


def test_fpgasupdate_never_accepts_irreversible_images(n3000, tools, tmp_path):
    driver, card = n3000
    image = tools.image(tmp_path / "rk.bin", "x", component="fpga_shell", irreversible=True)
    result = driver.flash(card, "fpga_shell", image, 10)
    assert (result.ok, result.error_code) == (False, "incompatible-image")
    assert "irreversible" in result.log_tail
    assert "pending" not in tools.read()["devices"][N3000]
