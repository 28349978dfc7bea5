"""The AMD driver: amdsmi -> amd-smi -> rocm-smi -> amdgpu sysfs, Instinct classes, flashing."""

from __future__ import annotations

import pytest

from cyborg_lite.drivers import amd, base
from cyborg_lite.drivers.amd_sources import load_amdsmi, parse_amd_smi, parse_rocm_smi
from cyborg_lite.drivers.host import ToolOutputError
from tests.unit.drivers.conftest import fixture_text
from tests.unit.drivers.fake_amdsmi import DRIVER_NOT_LOADED, AmdSmiFwBlock, FakeAmdSmi

MI300X = "0000:0c:00.0"
V620 = "0000:03:00.0"
RX = "0000:2d:00.0"

MI300X_LIB = {
    "bdf": "0000:0c:00.0",
    "asic": {
        "market_name": "AMD Instinct MI300X",
        "device_id": "0x74a1",
        "asic_serial": "0x00000000000000A1",
    },
    "board": {"product_serial": "SYN0000000001", "product_name": "AMD Instinct MI300X OAM"},
    "vbios": {"version": "022.040.003.043.000001", "part_number": "113-M3000100-102"},
    "driver": {"driver_version": "6.7.0"},
    "vram": {"vram_size": 196592},
    "fw": {
        "fw_list": [
            {"fw_name": AmdSmiFwBlock.AMDSMI_FW_ID_SMU, "fw_version": "85.118.0"},
            {"fw_name": AmdSmiFwBlock.AMDSMI_FW_ID_MEC, "fw_version": "155"},
            {"fw_name": AmdSmiFwBlock.AMDSMI_FW_ID_PLDM_BUNDLE, "fw_version": "01.25.03.12"},
        ]
    },
}
V620_LIB = {
    "bdf": "0000:03:00.0",
    "asic": {"market_name": "N/A", "device_id": "0x73a1", "asic_serial": "N/A"},
    "board": {"product_serial": "N/A", "product_name": "Radeon PRO V620"},
    "vbios": {"version": "N/A", "part_number": "N/A"},
    "vram": None,  # NOT_SUPPORTED
}


def _amd_host(host):
    host.pci(MI300X, "1002", "74a1", "0x120000", driver="amdgpu", numa_node=0, iommu_group=3)
    host.pci("0000:0c:00.1", "1002", "ab38", "0x040300", driver="snd_hda_intel")
    host.pci(V620, "1002", "73a1", "0x038000", driver="amdgpu")
    host.pci("0000:00:00.0", "1022", "14a4", "0x060000")  # AMD host bridge: not a GPU vendor
    host.pci(
        RX,
        "1002",
        "744c",
        "0x030000",
        driver="amdgpu",
        files={
            "vbios_version": "113-D70401-00",
            "product_name": "",
            "unique_id": "5a3c2f1e0d0b0a09",
            "mem_info_vram_total": "25753026560",
            "fw_version/smc_fw_version": "0x00554600",
            "fw_version/sos_fw_version": "0x00210e64",
            "fw_version/mec_fw_version": "0x000001f0",
        },
    )


def test_amdsmi_inventory_with_sysfs_filling_gaps(conf, host):
    _amd_host(host)
    lib = FakeAmdSmi([MI300X_LIB, V620_LIB])
    driver = amd.AmdDriver(conf, amdsmi=lib)
    devices = {d.pci_address: d for d in driver.discover()}
    assert sorted(devices) == [V620, MI300X, RX]
    mi = devices[MI300X]
    assert (mi.type, mi.vendor, mi.model, mi.stable_id, mi.numa_node) == (
        "GPU",
        "1002",
        "AMD Instinct MI300X",
        "SYN0000000001",
        0,
    )
    assert mi.std_board_info["controller"] == "Processing accelerators"
    assert mi.vendor_board_info == {
        "source": "amdsmi",
        "serial": "SYN0000000001",
        "vbios_part_number": "113-M3000100-102",
        "memory_bytes": str(196592 * 2**20),
        "driver_version": "6.7.0",
    }
    assert mi.firmware == (
        base.FirmwareComponent("vbios", "022.040.003.043.000001", False, "reboot"),
        base.FirmwareComponent("smc", "85.118.0", False, "reset"),
        base.FirmwareComponent("pldm_bundle", "01.25.03.12", False, "power_cycle"),
    )
    assert mi.deployables == (
        base.Deployable(
            name="0000_0c_00_0",
            resource_class="PGPU",
            traits=("OWNER_CYBORG", "CUSTOM_AMD_74A1"),
            attach_handles=(base.AttachHandle("PCI", MI300X),),
        ),
    )
    v620 = devices[V620]
    assert (v620.model, v620.firmware, v620.std_board_info["controller"]) == (
        "Radeon PRO V620",
        (),
        "Display controller",
    )
    # Not seen by amdsmi: amdgpu sysfs alone.
    rx = devices[RX]
    assert (rx.model, rx.stable_id, rx.vendor_board_info["source"]) == (
        "AMD GPU 744c",
        "5a3c2f1e0d0b0a09",
        "sysfs",
    )
    assert [(c.component, c.version) for c in rx.firmware] == [
        ("vbios", "113-D70401-00"),
        ("smc", "0x00554600"),
        ("psp_sos", "0x00210e64"),
    ]
    assert lib.shut_down == 1


def test_load_amdsmi_without_rocm_is_quiet_and_memoised(capsys):
    first = load_amdsmi()
    assert load_amdsmi() is first
    # Without ROCm (as here) it is None, and nothing leaked onto stdout either way.
    assert first is None or hasattr(first, "amdsmi_init")
    assert capsys.readouterr().out == ""


def test_falls_back_to_amd_smi(conf, host, tools):
    _amd_host(host)
    tools.add(
        MI300X,
        "amd",
        {"vbios": "022.040.003.043.000001"},
        name="AMD Instinct MI300X",
        device_id="0x74a1",
        part_number="113-M3000100-102",
        serial="SYN0000000001",
        vram_mb=196592,
    )
    driver = amd.AmdDriver(
        conf, amdsmi=FakeAmdSmi([], init_error=DRIVER_NOT_LOADED), runner=tools.runner()
    )
    mi = {d.pci_address: d for d in driver.discover()}[MI300X]
    assert mi.vendor_board_info["source"] == "amd-smi"
    assert mi.vendor_board_info["memory_bytes"] == str(196592 * 2**20)
    assert mi.firmware[0].version == "022.040.003.043.000001"
    assert driver.errors == ["amdsmi: AmdSmiLibraryException: amdsmi error 47"]
    assert tools.calls("amd-smi") == [["static", "--json", "C"], ["firmware", "--json", "C"]]


def test_falls_back_to_rocm_smi_then_sysfs(conf, host, tools):
    _amd_host(host)
    conf.set_override("use_amdsmi", False, group="amd")
    tools.remove("amd-smi")
    driver = amd.AmdDriver(conf, runner=tools.runner())
    devices = driver.discover()
    # The fake rocm-smi knows no card: everything comes from sysfs, nothing crashes.
    assert [d.vendor_board_info["source"] for d in devices] == ["sysfs", "sysfs", "sysfs"]
    assert driver.errors[0].startswith("amd-smi: amd-smi is not installed")
    assert tools.calls("rocm-smi") == [[*amd.ROCM_SMI_ARGS, "C"]]
    tools.fail("rocm-smi", "garbage")
    assert len(driver.discover()) == 3
    assert driver.errors[-1].startswith("rocm-smi: unparseable JSON")


def test_parse_amd_smi_envelope_and_firmware():
    gpus = parse_amd_smi(
        fixture_text("amd-smi/static-envelope.json"), fixture_text("amd-smi/firmware-envelope.json")
    )
    assert sorted(gpus) == [MI300X, "0000:22:00.0"]  # the CPU entry is skipped
    first, second = gpus[MI300X], gpus["0000:22:00.0"]
    assert (first.name, first.vbios, first.serial, first.device_id, first.memory_bytes) == (
        "AMD Instinct MI300X",
        "022.040.003.043.000001",
        "SYN0000000001",
        "74a1",
        196592 * 2**20,
    )
    assert first.firmware == (
        ("smc", "85.118.0"),
        ("psp_sos", "00.36.02.59"),
        ("pldm_bundle", "01.25.03.12"),
    )
    # vbios "N/A" as a whole block, serial N/A: the ASIC serial stands in.
    assert (second.vbios, second.serial, second.firmware) == (
        None,
        "0x00000000000000A2",
        (("smc", "85.118.0"),),
    )


def test_parse_amd_smi_bare_list():
    v620 = parse_amd_smi(fixture_text("amd-smi/static-list.json"))[V620]
    assert (v620.name, v620.vbios, v620.vbios_part_number, v620.memory_bytes) == (
        "Radeon PRO V620",
        None,
        None,
        32752 * 2**20,
    )


@pytest.mark.parametrize("text", ['{"gpu_data": ', '{"oops": 1}', "42"])
def test_parse_amd_smi_garbage(text):
    with pytest.raises(ToolOutputError, match=r"^amd-smi: "):
        parse_amd_smi(text)


def test_parse_rocm_smi_spellings():
    old = parse_rocm_smi(fixture_text("rocm-smi/old.json"))["0000:43:00.0"]
    assert (old.name, old.vbios, old.serial, old.unique_id, old.driver_version) == (
        "Vega 20 [Radeon Instinct MI50]",
        "113-D1631700-111",
        "SYN00000000000A",
        "0x00000000000000b1",
        "5.16.9.22.20",
    )
    new = parse_rocm_smi(fixture_text("rocm-smi/new.json"))
    assert (new["0000:63:00.0"].vbios, new["0000:63:00.0"].serial) == ("113-D67301-063", None)
    assert (new["0000:83:00.0"].vbios, new["0000:83:00.0"].device_id) == (None, "740f")
    with pytest.raises(ToolOutputError, match=r"^rocm-smi: expected a JSON object"):
        parse_rocm_smi("[]")


@pytest.fixture
def flashable(conf, host, tools):
    host.pci(
        V620,
        "1002",
        "73a1",
        "0x038000",
        driver="amdgpu",
        files={"vbios_version": "113-D6030100-100"},
    )
    conf.set_override("use_amdsmi", False, group="amd")
    conf.set_override("flash_command", ["amdvbflash", "-p", "{address}", "{image}"], group="amd")
    tools.add(V620, "amd", {"vbios": "113-D6030100-100"}, board="v620")
    tools.fail("amd-smi", "rc:3")
    driver = amd.AmdDriver(conf, runner=tools.runner())
    return driver, driver.discover()[0]


def test_flash_pending_reboot(flashable, tools, tmp_path):
    driver, device = flashable
    assert device.firmware == (base.FirmwareComponent("vbios", "113-D6030100-100", True, "reboot"),)
    result = driver.flash(device, "vbios", tools.image(tmp_path / "v.rom", "113-D6030100-101"), 10)
    assert (result.ok, result.activation_pending, result.version) == (
        True,
        True,
        "113-D6030100-100",
    )
    assert result.message.endswith("active after a reboot")
    assert tools.read()["devices"][V620]["pending"] == {"vbios": "113-D6030100-101"}


@pytest.mark.parametrize(
    ("mode", "code"),
    [("bad-image", "incompatible-image"), ("mid-flash", "hw-error"), ("busy", "busy")],
)
def test_flash_failures(flashable, tools, tmp_path, mode, code):
    driver, device = flashable
    tools.fail("amdvbflash", mode)
    result = driver.flash(device, "vbios", tools.image(tmp_path / "v.rom", "2"), 10)
    assert (result.ok, result.error_code) == (False, code)
    assert result.message.startswith("amdvbflash failed (1): ")
