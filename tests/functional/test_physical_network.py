"""A SmartNIC's physical network, from the driver's report to a bound ARQ (contract §12).

Nova builds an ``accelerator-direct`` port's PCI request from the bound ARQ's
``attach_handle_info``: ``physical_network`` and the PCI parts. Here the simulated driver
discovers an N6001 and a U280, the agent's report goes through the conductor's reconcile, and
ARQs bound through the API show the network on the NIC only.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from cyborg_lite.agent import discovery, manager
from cyborg_lite.conductor import inventory
from cyborg_lite.drivers.simulated import SimulatedDriver
from tests import personas
from tests.conftest import make_test_conf

ARQS = "/v2/accelerator_requests"
HOST = "compute1"
PROFILES = {
    "nic": [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL_N6001": "required"}],
    "alveo": [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_XILINX": "required"}],
}


@pytest.fixture
def reported(client, db, tmp_path):
    """The simulated host's report applied; the rp uuid of each card's deployable by model."""
    conf = make_test_conf(str(tmp_path / "agent-state"))
    conf.set_override("host", HOST)
    conf.set_override("devices", ["intel-n6001:1", "xilinx-u280:1"], "simulated")
    found = discovery.run([SimulatedDriver(conf)], 10)
    assert found.errors == []
    report = manager.build_report(HOST, found.devices, found.errors)
    assert inventory.receive_report(db, report, dt.datetime(2026, 1, 1)).applied
    for name, groups in PROFILES.items():
        made = client.simulate_post("/v2/device_profiles", json=[{"name": name, "groups": groups}])
        assert made.status_code == 201, made.text
    deployables = client.simulate_get("/v2/deployables").json["deployables"]
    return {d["name"].removeprefix(f"{HOST}_"): d["rp_uuid"] for d in deployables}


def bind(client, profile, rp_uuid, instance):
    made = client.simulate_post(
        ARQS, json={"device_profile_name": profile}, headers=personas.MEMBER
    )
    assert made.status_code == 201, made.text
    [arq] = made.json["arqs"]
    ops = [
        {"op": "add", "path": "/hostname", "value": HOST},
        {"op": "add", "path": "/device_rp_uuid", "value": rp_uuid},
        {"op": "add", "path": "/instance_uuid", "value": instance},
    ]
    done = client.simulate_patch(ARQS, json={arq["uuid"]: ops}, headers=personas.NOVA)
    assert done.status_code == 202, done.text
    return arq["uuid"]


def test_bound_smartnic_arq_shows_its_physical_network(client, reported):
    instance = str(uuid.uuid4())
    nic = bind(client, "nic", reported["intel-n6001-0"], instance)
    alveo = bind(client, "alveo", reported["xilinx-u280-0"], str(uuid.uuid4()))
    shown = client.simulate_get(f"{ARQS}/{nic}", headers=personas.MEMBER).json
    assert (shown["state"], shown["attach_handle_type"]) == ("Bound", "PCI")
    # The simulated N6001 sits at 0000:60:00.0.
    assert shown["attach_handle_info"] == {
        "domain": "0000",
        "bus": "60",
        "device": "00",
        "function": "0",
        "physical_network": "physnet1",
    }
    # Nova reads it from the instance's ARQ list (compute's wait for the bind).
    listed = client.simulate_get(ARQS, params={"instance": instance}, headers=personas.NOVA)
    assert [(a["uuid"], a["attach_handle_info"]) for a in listed.json["arqs"]] == [
        (nic, shown["attach_handle_info"])
    ]
    # The Alveo is no NIC: its handle has the PCI parts only.
    other = client.simulate_get(f"{ARQS}/{alveo}", headers=personas.MEMBER).json
    assert (other["state"], other["attach_handle_info"]) == (
        "Bound",
        {"domain": "0000", "bus": "80", "device": "00", "function": "0"},
    )


def test_unbound_arq_shows_no_handle_info(client, reported):
    """The network belongs to the handle: an ARQ that holds none shows nothing of it."""
    made = client.simulate_post(ARQS, json={"device_profile_name": "nic"}, headers=personas.MEMBER)
    [arq] = made.json["arqs"]
    shown = client.simulate_get(f"{ARQS}/{arq['uuid']}", headers=personas.MEMBER).json
    assert (shown["state"], shown["attach_handle_info"]) == ("Initial", {})
