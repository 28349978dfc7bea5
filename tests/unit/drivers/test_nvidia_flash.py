"""Flashing an NVIDIA VBIOS through the fake nvflash on PATH, every failure mode included."""

from __future__ import annotations

import dataclasses

import pytest

from cyborg_lite.drivers import base, nvidia
from tests.unit.drivers.test_host import _gone

H100 = "0000:3b:00.0"
OLD, NEW = "96.00.5E.00.01", "96.00.99.00.01"
NVFLASH = ["nvflash", "--pcisegbus={address}", "-y", "{image}"]


@pytest.fixture
def gpu(conf, host, tools):
    host.pci(H100, "10de", "2330", "0x030200", driver="nvidia")
    tools.add(
        H100,
        "nvidia",
        {"vbios": OLD, "inforom": "G520.0200.00.05"},
        name="NVIDIA H100 80GB HBM3",
        serial="1",
        uuid="GPU-1",
        pci_device_id="0x233010DE",
        memory_mib=81559,
        board="p1010",
    )
    conf.set_override("use_nvml", False, group="nvidia")
    conf.set_override("flash_command", NVFLASH, group="nvidia")
    driver = nvidia.NvidiaDriver(conf, runner=tools.runner())
    (device,) = driver.discover()
    return driver, device


def test_flash_is_pending_until_reset_then_verified(gpu, tools, tmp_path):
    driver, device = gpu
    image = tools.image(tmp_path / "vbios.rom", NEW, board="p1010")
    result = driver.flash(device, "vbios", image, timeout=10, expected_version=NEW)
    assert (result.ok, result.activation_pending, result.version) == (True, True, OLD)
    assert result.message == f"vbios written ({NEW}); active after a reset"
    assert "GPU reset" in result.log_tail
    assert tools.calls("nvflash") == [[f"--pcisegbus={H100}", "-y", image, "C"]]
    # Before the reset the GPU still runs the old VBIOS ...
    assert base.verify_activation(driver.discover()[0], "vbios", NEW).error_code == (
        "verify-mismatch"
    )
    # ... after it, the new one.
    tools.activate(H100)
    verified = base.verify_activation(driver.discover()[0], "vbios", NEW)
    assert (verified.ok, verified.version) == (True, NEW)


def test_flash_same_version_is_already_active(gpu, tools, tmp_path):
    driver, device = gpu
    result = driver.flash(
        device, "vbios", tools.image(tmp_path / "i", OLD), 10, expected_version=OLD
    )
    assert (result.ok, result.activation_pending, result.message) == (True, False, "already active")


@pytest.mark.parametrize(
    ("setup", "code", "says"),
    [
        (lambda t: t.set(H100, in_use=True), "busy", "GPU is in use"),
        (lambda t: t.fail("nvflash", "bad-image"), "incompatible-image", "Board ID mismatch"),
        (lambda t: t.fail("nvflash", "mid-flash"), "hw-error", "Flash write failed"),
        (lambda t: t.remove("nvflash"), "tool-missing", "nvflash is not installed"),
        (lambda t: t.fail("nvflash", "rc:9"), "driver-not-loaded", "NVIDIA driver"),
    ],
)
def test_flash_failures(gpu, tools, tmp_path, setup, code, says):
    driver, device = gpu
    setup(tools)
    result = driver.flash(device, "vbios", tools.image(tmp_path / "i", NEW), timeout=10)
    assert (result.ok, result.error_code) == (False, code)
    assert says in result.message
    assert driver.discover()[0].firmware[0].version == OLD


def test_flash_wrong_board_image(gpu, tools, tmp_path):
    driver, device = gpu
    result = driver.flash(device, "vbios", tools.image(tmp_path / "i", NEW, board="p9999"), 10)
    assert result.error_code == "incompatible-image"


def test_flash_hang_is_killed(gpu, tools, tmp_path):
    driver, device = gpu
    tools.fail("nvflash", "hang")
    result = driver.flash(device, "vbios", tools.image(tmp_path / "i", NEW), timeout=0.5)
    assert (result.ok, result.error_code) == (False, "timeout")
    assert result.message.startswith("nvflash: no result after 0.5s; killed")
    assert "Programming ... 10%" in result.log_tail
    assert all(_gone(pid) for pid in tools.read()["hung"])


def test_flash_version_unchanged_after_reset(gpu, tools, tmp_path):
    driver, device = gpu
    tools.fail("nvflash", "unchanged")
    result = driver.flash(
        device, "vbios", tools.image(tmp_path / "i", NEW), 10, expected_version=NEW
    )
    assert (result.ok, result.activation_pending) == (True, True)
    tools.activate(H100)
    verified = base.verify_activation(driver.discover()[0], "vbios", NEW)
    assert (verified.ok, verified.error_code, verified.version) == (False, "verify-mismatch", OLD)


def test_flash_prompt_without_yes_fails_fast(gpu, conf, tools, tmp_path):
    # A template missing -y makes nvflash prompt; stdin is closed, so it reads EOF and fails.
    driver, device = gpu
    conf.set_override(
        "flash_command", ["nvflash", "--pcisegbus={address}", "{image}"], group="nvidia"
    )
    result = driver.flash(device, "vbios", tools.image(tmp_path / "i", NEW), timeout=10)
    assert (result.ok, result.error_code) == (False, "hw-error")
    assert "confirm" in result.log_tail


def test_flash_unsupported_cases(gpu, conf, tools, tmp_path):
    driver, device = gpu
    image = tools.image(tmp_path / "i", NEW)
    inforom = driver.flash(device, "inforom", image, 10)
    assert (inforom.error_code, inforom.message) == (
        "unsupported",
        "inforom of NVIDIA H100 80GB HBM3 is not updatable here",
    )
    assert driver.flash(device, "cpld", image, 10).error_code == "unsupported"
    missing = driver.flash(device, "vbios", str(tmp_path / "absent.rom"), 10)
    assert (missing.error_code, "does not exist" in missing.message) == ("unknown", True)
    conf.set_override("flash_command", [], group="nvidia")
    unconfigured = driver.flash(device, "vbios", image, 10)
    assert unconfigured.error_code == "unsupported"
    assert "[nvidia] flash_command" in unconfigured.message
    assert tools.calls("nvflash") == []


def test_flash_refused_while_mig_instances_exist(gpu, tools, tmp_path):
    driver, device = gpu
    mig = base.Deployable("g_mig1_0", "VGPU", attach_handles=(base.AttachHandle("MIG", H100),))
    result = driver.flash(
        dataclasses.replace(device, deployables=(mig,)),
        "vbios",
        tools.image(tmp_path / "i", NEW),
        10,
    )
    assert (result.ok, result.error_code) == (False, "busy")
    assert tools.calls("nvflash") == []
