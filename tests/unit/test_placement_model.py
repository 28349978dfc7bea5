"""What a deployable's provider looks like: names, traits, inventory, reserved; and the Nova
events a bind batch makes. Pure functions, no Placement."""

from __future__ import annotations

import re
import uuid

import pytest

from cyborg_lite.arqs import states
from cyborg_lite.db.providers import DeployableState
from cyborg_lite.nova import bound_events
from cyborg_lite.placement import model

TRAIT = re.compile(r"^CUSTOM_[A-Z0-9_]+$")


def state(**kw):
    values = {
        "name": "compute1_0000:3b:00.0",
        "rp_uuid": None,
        "num_accelerators": 2,
        "hostname": "compute1",
        "device_uuid": "d",
        "unschedulable": False,
        "attributes": (("rc", "PGPU"), ("trait0", "OWNER_CYBORG"), ("trait1", "nvidia-2330")),
        "firmware": (("vbios", "96.00.89.00.01"), ("gsp", "r535 beta")),
    }
    values.update(kw)
    return DeployableState(**values)


@pytest.mark.parametrize(
    ("component", "version", "expected"),
    [
        ("vbios", "96.00.89.00.01", "CUSTOM_FW_VBIOS_96_00_89_00_01"),
        ("fpga_shell", "2.1-rc3", "CUSTOM_FW_FPGA_SHELL_2_1_RC3"),
        ("gsp", "r535 beta..", "CUSTOM_FW_GSP_R535_BETA"),
        ("inforom", "G520.0200.00.05", "CUSTOM_FW_INFOROM_G520_0200_00_05"),
    ],
)
def test_firmware_traits_are_valid_custom_traits(component, version, expected):
    assert model.firmware_trait(component, version) == expected
    assert TRAIT.match(expected)


def test_a_very_long_trait_is_cut_to_255_and_stays_distinct():
    one = model.firmware_trait("vbios", "1" * 300)
    two = model.firmware_trait("vbios", "1" * 299 + "2")
    assert len(one) == len(two) == 255
    assert one != two
    assert TRAIT.match(one)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("OWNER_CYBORG", "OWNER_CYBORG"),
        ("CUSTOM_NVIDIA_2330", "CUSTOM_NVIDIA_2330"),
        ("nvidia-2330", "CUSTOM_NVIDIA_2330"),
        ("custom_fpga.intel", "CUSTOM_FPGA_INTEL"),
    ],
)
def test_trait_attributes(value, expected):
    assert model.trait_name(value) == expected


def test_spec_of_a_deployable():
    spec = model.spec(state())
    assert spec.uuid == str(uuid.uuid3(uuid.NAMESPACE_DNS, "compute1_0000:3b:00.0"))
    assert spec.name == "compute1_0000:3b:00.0"
    assert spec.traits == {
        "OWNER_CYBORG",
        "CUSTOM_NVIDIA_2330",
        "CUSTOM_FW_VBIOS_96_00_89_00_01",
        "CUSTOM_FW_GSP_R535_BETA",
    }
    assert spec.inventories() == {
        "PGPU": {
            "total": 2,
            "reserved": 0,
            "min_unit": 1,
            "max_unit": 2,
            "step_size": 1,
            "allocation_ratio": 1.0,
        }
    }


def test_an_unschedulable_device_is_reserved_whole():
    assert model.spec(state(unschedulable=True)).inventories()["PGPU"]["reserved"] == 2


def test_stored_rp_uuid_wins_and_missing_rc_is_custom_pci():
    spec = model.spec(state(rp_uuid="r", attributes=()))
    assert (spec.uuid, spec.resource_class, spec.traits) == (
        "r",
        "CUSTOM_PCI",
        {"OWNER_CYBORG", "CUSTOM_FW_VBIOS_96_00_89_00_01", "CUSTOM_FW_GSP_R535_BETA"},
    )


def test_a_deployable_without_accelerators_has_no_inventory():
    assert model.spec(state(num_accelerators=0)).inventories() == {}


def test_long_provider_names_are_cut_to_200_and_stay_distinct():
    one, two = model.provider_name("h" * 250 + "1"), model.provider_name("h" * 250 + "2")
    assert len(one) == len(two) == 200
    assert one != two
    assert model.provider_name("short") == "short"


def test_a_bind_batch_makes_one_event_per_arq():
    targets = {
        "a2": states.BindTarget("h", "rp", "i1"),
        "a1": states.BindTarget("h", "rp", "i1"),
    }
    events = bound_events(states.bound_instances(targets, {"a1": "Bound", "a2": "BindFailed"}))
    assert events == [
        {
            "name": "accelerator-request-bound",
            "server_uuid": "i1",
            "tag": "a1",
            "status": "completed",
        },
        {"name": "accelerator-request-bound", "server_uuid": "i1", "tag": "a2", "status": "failed"},
    ]


@pytest.mark.parametrize(
    ("status", "drain", "expected"),
    [("enabled", None, True), ("maintaining", None, False), ("enabled", "job", False)],
)
def test_schedulable(status, drain, expected):
    assert states.schedulable(status, drain) is expected
