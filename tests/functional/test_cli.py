"""The ``openstack accelerator ...`` plugin, run as a user types it, against a real all-in-one.

One ``cyborg-lite-aio`` (two simulated hosts of five devices each) serves the whole module;
the tests run in file order and each leaves the inventory as the next one expects.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os

import pytest

from cyborg_lite.agent import manager as agent_manager
from tests.functional.cli_support import Osc, finish, running_aio, table

pytestmark = pytest.mark.slow

H100 = "NVIDIA H100 80GB HBM3"
SIM_VBIOS = "96.00.99.00.01"  # what the simulated H100s run
NEW_VBIOS = "97.00.10.00.01"
INSTANCE = "6f1d8f0e-5a43-4c1e-9a8e-2d2b3c4d5e6f"
ENGINE = hasattr(agent_manager.AgentEndpoint, "flash_firmware")


@pytest.fixture(scope="module")
def osc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    with running_aio(folder) as base:
        yield Osc(base, folder / "home")


def image(osc, tmp_path, name, version, size=1000):
    """Register and upload an H100 vbios image through the CLI; returns its JSON."""
    path = tmp_path / f"{name}.rom"
    path.write_bytes(os.urandom(size))
    return osc.json(
        "firmware", "image", "create", "--file", str(path), "--name", name,
        "--vendor", "10de", "--component", "vbios", "--firmware-version", version,
        "--device-id", "2330",
    )  # fmt: skip


def test_inventory(osc):
    hosts, host, gpus, paged, everything, deps = osc.many(
        ["host", "list", "-f", "json"],
        ["host", "show", "sim-host-01", "-f", "json"],
        ["device", "list", "--type", "GPU", "--vendor", "10de", "--hostname", "sim-host-02",
         "-f", "json"],
        ["device", "list", "--page-size", "3", "-f", "value", "-c", "uuid"],
        ["device", "list", "--long", "-f", "json", "--sort-column", "hostname"],
        ["deployable", "list", "--long", "-f", "json"],
    )  # fmt: skip
    assert [h["hostname"] for h in json.loads(hosts.stdout)] == ["sim-host-01", "sim-host-02"]
    assert set(json.loads(hosts.stdout)[0]) == {
        "hostname", "state", "device_count", "agent_version", "last_heartbeat",
    }  # fmt: skip
    shown = json.loads(host.stdout)
    assert shown["state"] == "up"
    assert shown["device_count"] == 5
    assert "links" not in shown
    gpus = json.loads(gpus.stdout)
    assert [(d["model"], d["hostname"], d["host_state"]) for d in gpus] == [
        (H100, "sim-host-02", "up")
    ] * 2
    # Four pages of three, through the API's Link headers: every device exactly once.
    everything = json.loads(everything.stdout)
    assert sorted(paged.stdout.split()) == sorted(d["uuid"] for d in everything)
    assert len(everything) == 10
    assert [d["hostname"] for d in everything] == sorted(d["hostname"] for d in everything)
    assert {"std_board_info", "status", "host_state"} <= set(everything[0])
    deps = json.loads(deps.stdout)
    assert len(deps) == 10
    assert {"rp_uuid", "attributes_list"} <= set(deps[0])

    device, deployable, firmware, limited = osc.many(
        ["device", "show", gpus[0]["uuid"], "-f", "json"],
        ["deployable", "show", deps[0]["uuid"], "-f", "json"],
        ["device", "firmware", "show", gpus[0]["uuid"], "-f", "json"],
        ["device", "list", "--limit", "4", "--marker", everything[0]["uuid"], "-c", "uuid"],
    )
    assert json.loads(device.stdout)["model"] == H100
    assert json.loads(deployable.stdout)["name"] == deps[0]["name"]
    parts = {c["component"]: c for c in json.loads(firmware.stdout)["components"]}
    assert parts["vbios"]["version"] == SIM_VBIOS
    assert parts["vbios"]["updatable"] is True
    assert len(table(limited.stdout)) == 1 + 4  # header and four rows


def test_attributes_profiles_and_arqs(osc):
    deployables = osc.json("deployable", "list", "--long")
    h100 = next(d for d in deployables if "nvidia-h100" in d["name"])
    attribute = osc.json("attribute", "create", h100["uuid"], "color", "blue")
    assert attribute["key"] == "color"
    profile = osc.json(
        "device", "profile", "create", "one-h100", "--description", "an H100",
        "--group", "resources:PGPU=1,trait:CUSTOM_NVIDIA_2330=required",
    )  # fmt: skip
    assert profile["groups"] == [{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}]

    attrs, attr, profiles, by_name, arqs = osc.many(
        ["attribute", "list", "--key", "color", "-f", "json"],
        ["attribute", "show", attribute["uuid"], "-f", "value", "-c", "value"],
        ["device", "profile", "list", "-f", "json"],
        ["device", "profile", "show", "one-h100", "-f", "json"],
        ["arq", "create", "one-h100", "-f", "json"],
    )
    assert [a["uuid"] for a in json.loads(attrs.stdout)] == [attribute["uuid"]]
    assert attr.stdout.strip() == "blue"
    assert [p["name"] for p in json.loads(profiles.stdout)] == ["one-h100"]
    assert json.loads(by_name.stdout)["uuid"] == profile["uuid"]
    (arq,) = json.loads(arqs.stdout)
    assert arq["state"] == "Initial"

    bound = osc.json(
        "arq", "bind", arq["uuid"], "--hostname", h100["name"].split("_")[0],
        "--device-rp-uuid", h100["rp_uuid"], "--instance-uuid", INSTANCE,
    )  # fmt: skip
    assert (bound["state"], bound["attach_handle_type"]) == ("Bound", "PCI")
    assert set(bound["attach_handle_info"]) == {"domain", "bus", "device", "function"}
    listed, shown = osc.many(
        ["arq", "list", "--instance", INSTANCE, "-f", "json"],
        ["arq", "show", arq["uuid"], "-f", "json"],
    )
    assert [a["uuid"] for a in json.loads(listed.stdout)] == [arq["uuid"]]
    assert json.loads(shown.stdout)["instance_uuid"] == INSTANCE
    assert osc.json("arq", "unbind", arq["uuid"])["state"] == "Unbound"

    osc.many(
        ["arq", "delete", arq["uuid"]],
        ["attribute", "delete", attribute["uuid"]],
    )
    osc.run("device", "profile", "delete", "one-h100")
    left = osc.many(["arq", "list", "-f", "json"], ["attribute", "list", "--key", "color"])
    assert json.loads(left[0].stdout) == []
    assert left[1].stdout.strip() == ""
    assert osc.json("device", "profile", "list") == []


def test_api_errors_reach_the_user(osc):
    missing = "00000000-0000-0000-0000-000000000001"
    started = [
        osc.start("device", "show", missing),
        osc.start("device", "profile", "show", "nope"),
        osc.start("host", "show", "no-such-host"),
        osc.start("arq", "delete", missing, "not-a-uuid"),
        osc.start("host", "list", options=["--os-accelerator-api-version", "2.9"]),
        # Refused before any request: the CLI knows hosts need 2.4.
        osc.start("host", "list", options=["--os-accelerator-api-version", "2.3"]),
        osc.start("firmware", "rollout", "create", "--image", missing),
    ]
    device, profile, host, arqs, unknown, too_old, no_selector = [
        finish(p, ok=False, timeout=60) for p in started
    ]
    assert {r.returncode for r in (device, profile, host, arqs, unknown, too_old)} == {1}
    assert f"Device not found with uuid={missing} (HTTP 404) (Request-ID: req-" in device.stderr
    assert "Device Profile not found with name=nope (HTTP 404)" in profile.stderr
    assert "Host not found with hostname=no-such-host (HTTP 404)" in host.stderr
    assert f"ExtArq not found with uuid={missing} (HTTP 404)" in arqs.stderr
    assert "Value: 'not-a-uuid'" in arqs.stderr
    assert "2 of 2 accelerator requests failed to delete" in arqs.stderr
    assert "The supported version range is: [2.0, 2.4]. (HTTP 406)" in unknown.stderr
    assert "needs accelerator API microversion 2.4 or later; 2.3 was asked" in too_old.stderr
    assert no_selector.returncode != 0
    assert "never targets every device by omission" in no_selector.stderr
