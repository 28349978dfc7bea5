"""python-cyborgclient 3.0.0's ``openstack accelerator ...`` commands against cyborg-lite.

Which OSC gives a user cyborgclient's commands: python-openstackclient 10.4.0 added its own
in-tree ``accelerator`` module, and from then on OSC drops any ``openstack.cli.extension``
with the same ``API_NAME`` and lists ``cyborgclient.osc.v2`` in its ignored command modules,
so with OSC 10.4 or 10.5 installed beside cyborgclient every ``openstack accelerator``
command is OSC's own (``arq bind`` takes a server, not an instance uuid and a project). OSC
10.3.1 is the newest release without the in-tree module, where cyborgclient's plugin loads:
that is the venv built here (``.venv-clients/cyborgclient``), run as a subprocess with a
private HOME against one all-in-one per module.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import client_venvs
from tests.functional import client_support as cs
from tests.functional.cli_support import DEVICES_PER_HOST, SIMULATED_HOSTS, finish, running_aio

pytestmark = pytest.mark.slow

FLEET = SIMULATED_HOSTS * DEVICES_PER_HOST
# The newest python-openstackclient without its own accelerator commands (see above).
OSC_FOR_CYBORGCLIENT = "10.3.1"
GPU_GROUPS = '[{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}]'

BROKEN_UPSTREAM = {
    # Calls openstacksdk's update_deployable, which in 4.22 calls itself (RecursionError)
    # before any request; it would also need the image in Glance.
    "deployable program",
}
EXERCISED = cs.UPSTREAM_COMMANDS


@pytest.fixture(scope="module")
def venv() -> Path:
    return client_venvs.ensure(
        "cyborgclient",
        ["python-cyborgclient==3.0.0", f"python-openstackclient=={OSC_FOR_CYBORGCLIENT}"],
    )


@pytest.fixture(scope="module")
def osc(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[cs.VenvOsc]:
    folder = tmp_path_factory.mktemp("cyborgclient")
    with running_aio(folder) as base:
        yield cs.VenvOsc(venv, base, folder / "home")


def outputs(osc: cs.VenvOsc, *commands: list[str]) -> list[Any]:
    """Independent ``-f json`` invocations at once, decoded."""
    return [json.loads(r.stdout) for r in osc.many(*([*c, "-f", "json"] for c in commands))]


def failed(proc: subprocess.Popen[bytes]) -> str:
    """Wait for an invocation that must fail with exit status 1; its stderr."""
    done = finish(proc, False, 60)
    assert done.returncode == 1, (done.stdout, done.stderr)
    return done.stderr


def test_commands_are_cyborgclients(venv: Path, osc: cs.VenvOsc) -> None:
    assert cs.commands(venv, "cyborgclient.osc.") == EXERCISED | BROKEN_UPSTREAM
    assert cs.commands(venv, "openstackclient.") == set()  # nothing to shadow them
    debug = osc.run("device", "list", options=["--debug"])
    # cyborgclient's plugin asks for 2.3 on every call (OSC's in-tree module asks none).
    assert "OpenStack-API-Version: accelerator 2.3" in cs.request(debug.stderr, "GET", "/devices")
    assert "accelerator device list -> cyborgclient.osc.v2.device.ListDevice" in debug.stderr


def test_osc_10_5_shadows_cyborgclient(osc: cs.VenvOsc, tmp_path: Path) -> None:
    # Why not OSC 10.5: installed beside it, cyborgclient's commands never run. (Its
    # make_client still replaces OSC's, as OSC registers every extension's client before
    # dropping the clashing ones: hence "accelerator 2.0" on the wire, which neither OSC
    # alone, no header, nor cyborgclient's own commands, 2.3, would send.)
    venv = client_venvs.ensure(
        "cyborgclient-osc-10.5",
        ["python-cyborgclient==3.0.0", f"python-openstackclient=={cs.OSC_VERSION}"],
    )
    shadowed = cs.VenvOsc(venv, osc.base_url, tmp_path / "home")
    debug = shadowed.run("device", "list", options=["--debug"])
    assert "device list -> openstackclient.accelerator.v2.device.ListDevice" in debug.stderr
    sent = cs.request(debug.stderr, "GET", "/devices")
    assert "OpenStack-API-Version: accelerator 2.0" in sent


def test_inventory(osc: cs.VenvOsc) -> None:
    api = osc.api("GET", "/devices")["devices"]
    gpu = next(d for d in api if d["type"] == "GPU")
    deployable = osc.api("GET", "/deployables")["deployables"][0]
    listed, long, shown, deployables, dep = outputs(
        osc,
        ["device", "list"],
        ["device", "list", "--long"],
        ["device", "show", gpu["uuid"]],
        ["deployable", "list", "--long"],
        ["deployable", "show", deployable["uuid"]],
    )
    assert sorted(d["uuid"] for d in listed) == sorted(d["uuid"] for d in api)
    assert {d["status"] for d in long} == {"enabled"}  # present: it asks for 2.3
    assert (shown["uuid"], shown["model"], shown["vendor"]) == (
        gpu["uuid"],
        gpu["model"],
        gpu["vendor"],
    )
    assert len(deployables) == FLEET
    assert {d["uuid"] for d in deployables} == {
        d["uuid"] for d in osc.api("GET", "/deployables")["deployables"]
    }
    assert (dep["uuid"], dep["name"]) == (deployable["uuid"], deployable["name"])


def test_device_disable_and_enable(osc: cs.VenvOsc) -> None:
    device = osc.api("GET", "/devices?type=FPGA")["devices"][0]["uuid"]
    osc.run("device", "disable", device)
    assert osc.json("device", "show", device)["status"] == "maintaining"
    osc.run("device", "enable", device)
    assert osc.api("GET", f"/devices/{device}")["status"] == "enabled"


def test_attributes(osc: cs.VenvOsc) -> None:
    # cyborgclient passes what the user typed; users know a deployable by the integer id
    # that attributes show, and it is sent as a string ("1").
    deployable_id = osc.api("GET", "/attributes?key=rc")["attributes"][0]["deployable_id"]
    created = osc.json("device", "attribute", "create", str(deployable_id), "cc-color", "red")
    assert (created["deployable_id"], created["key"], created["value"]) == (
        deployable_id,
        "cc-color",
        "red",
    )
    listed, shown = outputs(
        osc,
        ["device", "attribute", "list", "--long"],
        ["device", "attribute", "show", created["uuid"]],
    )
    assert [a["value"] for a in listed if a["key"] == "cc-color"] == ["red"]
    assert shown == created
    deleted = osc.run("device", "attribute", "delete", created["uuid"])
    assert f"Deleted attribute {created['uuid']}" in deleted.stdout
    assert osc.api("GET", "/attributes?key=cc-color")["attributes"] == []


def test_device_profiles(osc: cs.VenvOsc) -> None:
    made = osc.json("device", "profile", "create", "cc-gpu", GPU_GROUPS, "--description", "cc")
    assert made["groups"] == json.loads(GPU_GROUPS)
    listed, by_name, by_uuid = outputs(
        osc,
        ["device", "profile", "list"],
        ["device", "profile", "show", "cc-gpu"],  # a name: fine at 2.3
        ["device", "profile", "show", made["uuid"]],
    )
    assert [(p["name"], p["description"]) for p in listed] == [("cc-gpu", "cc")]
    assert by_name == by_uuid == made
    deleted = osc.run("device", "profile", "delete", "cc-gpu")
    assert "Deleted device_profile cc-gpu" in deleted.stdout
    assert "cc-gpu not found" in failed(osc.start("device", "profile", "delete", "cc-gpu"))


def test_arq_create_bind_unbind_delete(osc: cs.VenvOsc) -> None:
    osc.api("POST", "/device_profiles", [{"name": "cc-arq", "groups": [{"resources:PGPU": "1"}]}])
    first, second = outputs(osc, ["arq", "create", "cc-arq"], ["arq", "create", "cc-arq"])
    assert (first["state"], first["device_profile_name"]) == ("Initial", "cc-arq")
    h100 = next(
        d for d in osc.api("GET", "/deployables")["deployables"] if "nvidia-h100" in d["name"]
    )
    host, instance = h100["name"].split("_")[0], str(uuid.uuid4())
    # The fifth argument, a project id, is required by the parser and never sent.
    bound = osc.json("arq", "bind", first["uuid"], host, instance, h100["rp_uuid"], "ignored")
    assert (bound["state"], bound["hostname"], bound["instance_uuid"]) == ("Bound", host, instance)
    assert (bound["device_rp_uuid"], bound["attach_handle_type"]) == (h100["rp_uuid"], "PCI")
    listed, shown = outputs(osc, ["arq", "list", "--long"], ["arq", "show", first["uuid"]])
    assert {a["uuid"]: a["state"] for a in listed} == {
        first["uuid"]: "Bound",
        second["uuid"]: "Initial",
    }
    assert shown == bound
    unbound = osc.json("arq", "unbind", first["uuid"])
    assert (unbound["state"], unbound["hostname"]) == ("Unbound", None)
    deleted = osc.run("arq", "delete", first["uuid"], second["uuid"])
    assert deleted.stdout.count("Deleted accelerator_request") == 2
    again = failed(osc.start("arq", "delete", first["uuid"]))
    assert f"No accelerator_request with UUID {first['uuid']} exists." in again
    assert osc.api("GET", "/accelerator_requests")["arqs"] == []
    osc.api("DELETE", "/device_profiles/cc-arq")
