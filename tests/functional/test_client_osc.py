"""python-openstackclient's own ``openstack accelerator ...`` commands against cyborg-lite.

OSC 10.x ships an in-tree ``accelerator`` module on openstacksdk. These tests run it as a
user who installed python-openstackclient alone (no cyborg-lite CLI plugin, no
python-cyborgclient): its own venv under ``.venv-clients/osc``, its ``openstack`` binary run
as a subprocess with a private HOME, against one all-in-one per module. ``arq bind`` looks
the server up in Nova first, so a fake compute endpoint knows the server and a clouds.yaml
names both endpoints. Every command the installed OSC registers is exercised, except the ones
in ``BROKEN_UPSTREAM``, with the reason.
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
GPU_GROUP = "resources:PGPU=1,trait:CUSTOM_NVIDIA_2330=required"

# In-tree commands that cannot work against any Cyborg, and why (see the report for the
# README). Everything else the installed OSC registers is exercised below.
BROKEN_UPSTREAM = {
    # openstacksdk 4.22's Deployable.patch appends the id to a base path that already has
    # it (PATCH /deployables/<id>/program/<id>, a 404 everywhere), and the command first
    # needs the image in Glance.
    "deployable program",
}
EXERCISED = cs.UPSTREAM_COMMANDS


@pytest.fixture(scope="module")
def venv() -> Path:
    """OSC alone, pinned to the version in the project's venv."""
    return client_venvs.ensure("osc", [f"python-openstackclient=={cs.OSC_VERSION}"])


@pytest.fixture(scope="module")
def compute() -> Iterator[cs.FakeCompute]:
    with cs.fake_compute() as fake:
        yield fake


@pytest.fixture(scope="module")
def osc(
    venv: Path, compute: cs.FakeCompute, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[cs.VenvOsc]:
    folder = tmp_path_factory.mktemp("osc-in-tree")
    with running_aio(folder) as base:
        cs.write_clouds_yaml(folder / "home", f"{base}/v2", compute.url)
        yield cs.VenvOsc(venv, base, folder / "home")


def run_with(osc: cs.VenvOsc, *calls: tuple[list[str], list[str]]) -> list[Any]:
    """Run ``(args, global options)`` invocations at once; each must succeed; their
    ``-f json`` output decoded (``-f json`` is appended)."""
    started = [osc.start(*args, "-f", "json", options=options) for args, options in calls]
    return [json.loads(finish(p, True, 60).stdout) for p in started]


def failed(proc: subprocess.Popen[bytes]) -> str:
    """Wait for an invocation that must fail with exit status 1; its stderr."""
    done = finish(proc, False, 60)
    assert done.returncode == 1, (done.stdout, done.stderr)
    return done.stderr


def test_every_in_tree_command_is_covered(venv: Path, osc: cs.VenvOsc) -> None:
    installed = cs.commands(venv, "openstackclient.accelerator.")
    assert installed == EXERCISED | BROKEN_UPSTREAM
    assert not EXERCISED & BROKEN_UPSTREAM
    debug = osc.run("device", "list", options=["--debug"])
    assert "device list -> openstackclient.accelerator.v2.device.ListDevice" in debug.stderr
    # No microversion unless asked: the API answers at 2.0.
    assert "OpenStack-API-Version" not in cs.request(debug.stderr, "GET", "/devices")


def test_inventory(osc: cs.VenvOsc) -> None:
    api = osc.api("GET", "/devices")["devices"]
    h100 = next(d for d in api if d["model"] == "NVIDIA H100 80GB HBM3")
    v23 = ["--os-accelerator-api-version", "2.3"]
    listed, long, at_23, shown, deployables = run_with(
        osc,
        (["device", "list"], []),
        (["device", "list", "--long"], []),
        (["device", "list"], v23),
        (["device", "show", h100["uuid"]], v23),
        (["deployable", "list", "--long"], []),
    )
    assert sorted(d["uuid"] for d in listed) == sorted(d["uuid"] for d in api)
    # OSC asks for no microversion unless told, so ``status`` (2.3) is absent, shown empty.
    assert {d["status"] for d in listed} == {None}
    assert {d["model"] for d in long} == {d["model"] for d in api}
    assert {d["status"] for d in at_23} == {"enabled"}
    assert (shown["model"], shown["hostname"], shown["status"]) == (
        h100["model"],
        h100["hostname"],
        "enabled",
    )
    assert len(deployables) == FLEET
    (shown_dep,) = run_with(osc, (["deployable", "show", deployables[0]["uuid"]], []))
    assert (shown_dep["uuid"], shown_dep["name"]) == (
        deployables[0]["uuid"],
        deployables[0]["name"],
    )


def test_device_disable_and_enable(osc: cs.VenvOsc) -> None:
    device = osc.api("GET", "/devices?type=GPU")["devices"][0]["uuid"]
    osc.run("device", "disable", device)
    assert osc.api("GET", f"/devices/{device}")["status"] == "maintaining"
    osc.run("device", "enable", device)
    assert osc.api("GET", f"/devices/{device}")["status"] == "enabled"


def test_attributes(osc: cs.VenvOsc) -> None:
    deployable = osc.api("GET", "/deployables")["deployables"][0]
    # By uuid, then by the integer id the first answer carries (OSC sends it as a string).
    first = osc.json("device", "attribute", "create", deployable["uuid"], "osc-color", "blue")
    (second,) = run_with(
        osc,
        (["device", "attribute", "create", str(first["deployable_id"]), "osc-shape", "round"], []),
    )
    assert second["deployable_id"] == first["deployable_id"]
    listed, shown = run_with(
        osc,
        (["device", "attribute", "list", "--long"], []),
        (["device", "attribute", "show", first["uuid"]], []),
    )
    mine = {a["key"]: a for a in listed if a["key"].startswith("osc-")}
    assert {k: a["value"] for k, a in mine.items()} == {"osc-color": "blue", "osc-shape": "round"}
    assert (shown["key"], shown["value"], shown["uuid"]) == ("osc-color", "blue", first["uuid"])
    osc.run("device", "attribute", "delete", first["uuid"], second["uuid"])
    remaining = osc.api("GET", "/attributes")["attributes"]
    assert not [a for a in remaining if a["key"].startswith("osc-")]


def test_device_profiles(osc: cs.VenvOsc) -> None:
    made = osc.json(
        "device", "profile", "create", "osc-two", "--group", GPU_GROUP,
        "--group", "resources:FPGA=1", "--description", "a GPU and an FPGA",
    )  # fmt: skip
    assert made["groups"] == [
        {"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"},
        {"resources:FPGA": "1"},
    ]
    assert made["description"] == "a GPU and an FPGA"
    listed, by_uuid, by_name = run_with(
        osc,
        (["device", "profile", "list", "--long"], []),
        (["device", "profile", "show", made["uuid"]], []),
        # A name instead of a uuid needs 2.2, as in Cyborg; OSC asks none by default.
        (["device", "profile", "show", "osc-two"], ["--os-accelerator-api-version", "2.2"]),
    )
    assert [p["name"] for p in listed] == ["osc-two"]
    assert by_uuid == by_name
    assert by_uuid["groups"] == made["groups"]
    too_old = osc.start("device", "profile", "show", "osc-two")
    assert "minimal required API version should be 2.2" in failed(too_old)
    osc.run("device", "profile", "delete", "osc-two")
    assert osc.api("GET", "/device_profiles")["device_profiles"] == []


def test_arq_create_bind_unbind_delete(osc: cs.VenvOsc, compute: cs.FakeCompute) -> None:
    osc.api("POST", "/device_profiles", [{"name": "osc-gpu", "groups": [{"resources:PGPU": "1"}]}])
    first, second = run_with(
        osc, (["arq", "create", "osc-gpu"], []), (["arq", "create", "osc-gpu"], [])
    )
    assert (first["state"], first["device_profile_name"]) == ("Initial", "osc-gpu")
    h100 = next(
        d for d in osc.api("GET", "/deployables")["deployables"] if "nvidia-h100" in d["name"]
    )
    host = h100["name"].split("_")[0]
    server = str(uuid.uuid4())
    compute.servers[server] = "vm-osc"
    bind = ["arq", "bind", first["uuid"], host, server, h100["rp_uuid"], "-f", "json"]
    bound = json.loads(osc.run(*bind, auth=cs.CLOUD_AUTH).stdout)
    assert f"/v2.1/servers/{server}" in compute.paths  # asked Nova first, as upstream does
    assert (bound["state"], bound["hostname"], bound["instance_uuid"]) == ("Bound", host, server)
    assert (bound["device_rp_uuid"], bound["attach_handle_type"]) == (h100["rp_uuid"], "PCI")
    listed, shown = run_with(
        osc, (["arq", "list", "--long"], []), (["arq", "show", first["uuid"]], [])
    )
    states = {a["uuid"]: (a["state"], a["hostname"]) for a in listed}
    assert states == {first["uuid"]: ("Bound", host), second["uuid"]: ("Initial", None)}
    assert shown["attach_handle_info"] == bound["attach_handle_info"]
    unbound = osc.json("arq", "unbind", first["uuid"])
    assert (unbound["state"], unbound["instance_uuid"]) == ("Unbound", None)
    osc.run("arq", "delete", first["uuid"], second["uuid"])
    assert osc.api("GET", "/accelerator_requests")["arqs"] == []
    osc.run("device", "profile", "delete", "osc-gpu")


def test_errors_reach_the_user(osc: cs.VenvOsc) -> None:
    osc.api("POST", "/device_profiles", [{"name": "osc-err", "groups": [{"resources:PGPU": "1"}]}])
    arq = osc.api("POST", "/accelerator_requests", {"device_profile_name": "osc-err"})["arqs"][0]
    missing = str(uuid.uuid4())
    unknown_server = osc.start(
        "arq", "bind", arq["uuid"], "sim-host-01", missing, missing, auth=cs.CLOUD_AUTH
    )
    not_found = osc.start("arq", "show", missing)
    duplicate = osc.start("device", "profile", "create", "osc-err", "--group", GPU_GROUP)
    assert f"No Server found for {missing}" in failed(unknown_server)
    assert f"ExtArq not found with uuid={missing}" in failed(not_found)
    assert "A device_profile with name osc-err already exists" in failed(duplicate)
    # The bind stopped at Nova: nothing reached cyborg-lite.
    assert osc.api("GET", f"/accelerator_requests/{arq['uuid']}")["state"] == "Initial"
    osc.run("arq", "delete", arq["uuid"])
    osc.run("device", "profile", "delete", "osc-err")
