"""Shared driver helpers: value cleaning, traits, command templates, failure mapping."""

from __future__ import annotations

import dataclasses

import pytest

from cyborg_lite.drivers import base, common


def test_clean_and_sizes():
    assert common.clean(" N/A ") is None
    assert common.clean("[Not Supported]") is None
    assert common.clean("Requested functionality has been deprecated") is None
    assert common.clean(" 96.00 ") == "96.00"
    assert common.parse_size("81559 MiB") == 81559 * 2**20
    assert common.parse_size("16 GB") == 16 * 10**9
    assert common.parse_size("1024") == 1024
    assert common.parse_size("lots") is None


def test_trait():
    assert common.trait("NVIDIA", "2330") == "CUSTOM_NVIDIA_2330"
    assert common.trait("NVIDIA", "1EB8", "T4-1Q") == "CUSTOM_NVIDIA_1EB8_T4_1Q"
    assert common.trait("FPGA_REGION_INTEL", "a5d7-2a3c") == "CUSTOM_FPGA_REGION_INTEL_A5D7_2A3C"
    assert len(common.trait("X" * 400)) == 255


def test_expand_command_only_fills_known_placeholders():
    argv = common.expand_command(
        ["tool", "--dev={address}", "{image}"],
        {"address": "0000:3b:00.0", "image": "/tmp/a b;c"},
    )
    assert argv == ["tool", "--dev=0000:3b:00.0", "/tmp/a b;c"]


@pytest.mark.parametrize("arg", ["{image.__class__}", "{serial}", "x{IMAGE}", "{0}"])
def test_expand_command_rejects_unknown_placeholders(arg):
    with pytest.raises(ValueError, match="unknown placeholder"):
        common.expand_command(["tool", arg], {"image": "x"})


def test_address_values():
    assert common.address_values("0001:b1:00.3") == {
        "address": "0001:b1:00.3",
        "segment": "0x0001",
        "bus": "0xb1",
        "device": "0x00",
        "function": "0x3",
    }


@pytest.mark.parametrize(
    ("output", "code"),
    [
        ("ERROR: GPU is in use by running processes", "busy"),
        ("Secure update failed: device-busy", "busy"),
        ("ERROR: Board ID mismatch", "incompatible-image"),
        ("Secure update failed: invalid signature", "incompatible-image"),
        ("open /dev/nvidia0: Permission denied", "permission"),
        ("GPU has fallen off the bus", "device-lost"),
        ("couldn't communicate with the NVIDIA driver", "driver-not-loaded"),
        ("[FAILED] : Failed to update base", "hw-error"),
    ],
)
def test_classify_failure(output, code):
    assert common.classify_failure(output) == code


def _device(**fw):
    return base.Device(
        stable_id="x",
        type="GPU",
        vendor="10de",
        model="m",
        driver="nvidia",
        pci_address="0000:3b:00.0",
        firmware=tuple(base.FirmwareComponent(c, v, True) for c, v in fw.items()),
    )


def test_verify_activation():
    ok = base.verify_activation(_device(vbios="2"), "vbios", "2")
    assert ok.ok
    assert ok.version == "2"
    stale = base.verify_activation(_device(vbios="1"), "vbios", "2")
    assert (stale.ok, stale.error_code, stale.version) == (False, "verify-mismatch", "1")
    assert base.verify_activation(None, "vbios", "2").error_code == "device-lost"
    assert base.verify_activation(_device(), "vbios", "2").error_code == "device-lost"


def test_flash_refuses_non_canonical_address(tmp_path, tools):
    image = tools.image(tmp_path / "img", "2")
    bad = dataclasses.replace(_device(vbios="1"), pci_address="0000:3b:00.0 --force")
    result = common.flash_with_command(
        runner=tools.runner(),
        template=["nvflash", "--pcisegbus={address}", "-y", "{image}"],
        option="[nvidia] flash_command",
        device=bad,
        component="vbios",
        image_path=image,
        timeout=5,
        activation="reset",
        reread=lambda: None,
    )
    assert (result.ok, result.error_code) == (False, "unknown")
    assert "not a canonical PCI address" in result.message
    assert tools.calls("nvflash") == []


def _settle(reread, activation="reset", expected=None):
    device = _device(vbios="1")
    return common.settle(device, device.firmware[0], reread, activation, expected, "log")


def test_settle_device_gone_or_unreadable():
    gone = _settle(lambda: None)
    assert (gone.ok, gone.error_code) == (False, "device-lost")
    assert gone.message == "0000:3b:00.0 is gone after the flash"

    def broken():
        raise OSError("sysfs vanished")

    lost = _settle(broken)
    assert (lost.error_code, lost.message) == (
        "device-lost",
        "could not re-read 0000:3b:00.0: sysfs vanished",
    )


def test_settle_live_and_pending():
    assert _settle(lambda: _device(vbios="2"), "live", "2").ok
    live = _settle(lambda: _device(vbios="1"), "live", "2")
    assert (live.error_code, live.log_tail) == ("verify-mismatch", "log")
    pending = _settle(lambda: _device(vbios="1"), "power_cycle", "2")
    assert (pending.ok, pending.activation_pending, pending.message) == (
        True,
        True,
        "vbios written (2); active after a power cycle",
    )
