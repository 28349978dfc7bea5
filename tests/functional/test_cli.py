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
from tests.functional.cli_support import (
    Osc,
    fake_keystone,
    finish,
    keystone_auth,
    running_aio,
    table,
)
from tests.waiting import wait_for

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


def image_args(tmp_path, name, version, size=1000):
    """``firmware image create`` arguments for an H100 vbios image of random bytes."""
    path = tmp_path / f"{name}.rom"
    path.write_bytes(os.urandom(size))
    return [
        "firmware", "image", "create", "--file", str(path), "--name", name,
        "--vendor", "10de", "--component", "vbios", "--firmware-version", version,
        "--device-id", "2330", "-f", "json",
    ]  # fmt: skip


def test_inventory(osc):
    with fake_keystone(f"{osc.base_url}/v2") as keystone:
        through_catalog = osc.start(
            "host", "list", "-f", "value", "-c", "hostname", auth=keystone_auth(keystone)
        )
        hosts, host, gpus, listed, deps = osc.many(
            ["host", "list", "-f", "json"],
            ["host", "show", "sim-host-01", "-f", "json"],
            ["device", "list", "--type", "GPU", "--vendor", "10de", "--hostname", "sim-host-02",
             "-f", "json"],
            ["device", "list", "--long", "--sort-column", "hostname", "-f", "json"],
            ["deployable", "list", "--long", "-f", "json"],
        )  # fmt: skip
        # Keystone auth: a token, and the endpoint from its catalog.
        found = finish(through_catalog, True, 60).stdout.split()
        assert found == ["sim-host-01", "sim-host-02"]
        assert keystone.tokens_issued == 1
    assert [h["hostname"] for h in json.loads(hosts.stdout)] == ["sim-host-01", "sim-host-02"]
    assert set(json.loads(hosts.stdout)[0]) == {
        "hostname", "state", "device_count", "agent_version", "last_heartbeat",
    }  # fmt: skip
    shown = json.loads(host.stdout)
    assert (shown["state"], shown["device_count"]) == ("up", 5)
    assert "links" not in shown
    gpus = json.loads(gpus.stdout)
    assert [(d["model"], d["hostname"], d["host_state"]) for d in gpus] == [
        (H100, "sim-host-02", "up")
    ] * 2
    everything = json.loads(listed.stdout)
    unpaged = osc.api("GET", "/devices")["devices"]
    assert sorted(d["uuid"] for d in everything) == sorted(d["uuid"] for d in unpaged)
    assert [d["hostname"] for d in everything] == sorted(d["hostname"] for d in everything)
    assert {"std_board_info", "status", "host_state"} <= set(everything[0])
    deps = json.loads(deps.stdout)
    assert len(deps) == 10
    assert {"rp_uuid", "attributes_list"} <= set(deps[0])

    first = unpaged[0]["uuid"]  # the API's own order
    device, deployable, paged = osc.many(
        ["device", "show", gpus[0]["uuid"], "-f", "json"],
        ["deployable", "show", deps[0]["uuid"], "-f", "json"],
        # Pages of three after the marker (the API's Link headers lead on), cut at seven.
        ["device", "list", "--page-size", "3", "--marker", first, "--limit", "7", "-c", "uuid"],
    )
    assert json.loads(device.stdout)["model"] == H100
    assert json.loads(deployable.stdout)["name"] == deps[0]["name"]
    assert [r[0] for r in table(paged.stdout)] == ["uuid"] + [d["uuid"] for d in unpaged[1:8]]


def test_attributes_profiles_and_arqs(osc):
    deployables = osc.api("GET", "/deployables")["deployables"]
    h100 = next(d for d in deployables if "nvidia-h100" in d["name"])
    attribute, profile = (
        json.loads(r.stdout)
        for r in osc.many(
            ["attribute", "create", h100["uuid"], "color", "blue", "-f", "json"],
            ["device", "profile", "create", "one-h100", "--description", "an H100",
             "--group", "resources:PGPU=1,trait:CUSTOM_NVIDIA_2330=required", "-f", "json"],
        )
    )  # fmt: skip
    assert (attribute["key"], attribute["value"]) == ("color", "blue")
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

    osc.many(["arq", "delete", arq["uuid"]], ["attribute", "delete", attribute["uuid"]])
    osc.run("device", "profile", "delete", "one-h100")  # once no ARQ refers to it
    assert osc.api("GET", "/accelerator_requests")["arqs"] == []
    assert osc.api("GET", "/attributes?key=color")["attributes"] == []
    assert osc.api("GET", "/device_profiles")["device_profiles"] == []


def test_api_errors_reach_the_user(osc):
    missing = "00000000-0000-0000-0000-000000000001"
    started = [
        osc.start("device", "show", missing),
        osc.start("arq", "delete", missing, "not-a-uuid"),
        osc.start("host", "list", options=["--os-accelerator-api-version", "2.9"]),
        # Refused before any request: the CLI knows hosts need 2.4.
        osc.start("host", "list", options=["--os-accelerator-api-version", "2.3"]),
        osc.start("firmware", "rollout", "create", "--image", missing),
    ]
    device, arqs, unknown, too_old, no_selector = [finish(p, False, 60) for p in started]
    assert {r.returncode for r in (device, arqs, unknown, too_old, no_selector)} == {1}
    assert f"Device not found with uuid={missing} (HTTP 404) (Request-ID: req-" in device.stderr
    assert f"ExtArq not found with uuid={missing} (HTTP 404)" in arqs.stderr
    assert "Value: 'not-a-uuid'" in arqs.stderr
    assert "2 of 2 accelerator requests failed to delete" in arqs.stderr
    assert "The supported version range is: [2.0, 2.7]. (HTTP 406)" in unknown.stderr
    assert "needs accelerator API microversion 2.4 or later; 2.3 was asked" in too_old.stderr
    assert "never targets every device by omission" in no_selector.stderr


def test_image_upload_download_and_delete(osc, tmp_path):
    path = tmp_path / "big.rom"
    path.write_bytes(os.urandom(5 << 20))  # several chunks
    scratch, big = (
        json.loads(r.stdout)
        for r in osc.many(
            image_args(tmp_path, "scratch", NEW_VBIOS),
            ["firmware", "image", "create", "--file", str(path), "--name", "big",
             "--vendor", "0x10DE", "--component", "vbios", "--firmware-version", "97.1",
             "--device-id", "2330", "--model", H100, "--min-version", "96.00.10", "-f", "json"],
        )
    )  # fmt: skip
    assert scratch["status"] == "active"
    assert big["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (big["size"], big["status"], big["vendor"]) == (5 << 20, "active", "10de")
    assert big["compatibility"] == {
        "device_ids": ["2330"], "models": [H100], "min_version": "96.00.10",
        "function_id": None, "pr_interface_ids": [],
    }  # fmt: skip
    copy = tmp_path / "copy.rom"
    listed, shown, _, to_stdout = osc.many(
        ["firmware", "image", "list", "--vendor", "10de", "--long", "-f", "json"],
        ["firmware", "image", "show", "big", "-f", "json"],  # by name
        ["firmware", "image", "download", big["uuid"], "--file", str(copy)],
        ["firmware", "image", "download", "scratch"],  # to stdout
    )
    assert {i["name"] for i in json.loads(listed.stdout)} == {"big", "scratch"}
    assert json.loads(shown.stdout)["uuid"] == big["uuid"]
    assert copy.read_bytes() == path.read_bytes()
    assert not (tmp_path / "copy.rom.part").exists()
    assert to_stdout.raw == (tmp_path / "scratch.rom").read_bytes()

    # A refused registration: the API's reason, exit 1; then delete by name and by uuid.
    bad = osc.start(
        "firmware", "image", "create", "--file", str(path), "--name", "bad", "--vendor", "10de",
        "--component", "vbios", "--firmware-version", "1.0",
    )  # fmt: skip
    osc.run("firmware", "image", "delete", "big", scratch["uuid"])
    bad = finish(bad, False, 60)
    assert bad.returncode == 1
    assert "An image needs compatibility: 'device_ids' (PCI device ids) and/or" in bad.stderr
    assert osc.api("GET", "/firmware_images")["firmware_images"] == []


def test_dry_run_prints_the_plan(osc, tmp_path):
    new = json.loads(osc.run(*image_args(tmp_path, "vbios-new", NEW_VBIOS)).stdout)
    args = ["firmware", "rollout", "create", "--image", "vbios-new", "--dry-run"]
    tables, document, devices = osc.many(
        [*args, "--host", "sim-host-01", "--host", "sim-host-02", "--wave", "50%"],
        [*args, "--model", H100, "-f", "json"],
        [*args, "--model", H100, "-f", "value", "-c", "device"],
    )
    text = tables.stdout
    assert "Plan: 4 device(s) in 3 wave(s)" in text
    plan, left_out = text.split("Left out: 6 device(s)")
    rows = table(plan)
    assert rows[0] == ["wave", "device", "hostname", "model", "current_version", "in_use"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "2"]  # canary, to 50%, the rest
    assert {(r[3], r[4]) for r in rows[1:]} == {(H100, SIM_VBIOS)}
    excluded = table(left_out)
    assert excluded[0] == ["device", "hostname", "reason", "detail"]
    assert {r[2] for r in excluded[1:]} == {"incompatible"}
    body = json.loads(document.stdout)
    assert body["image_uuid"] == new["uuid"]
    assert body["total"] == 4
    assert [len(w["devices"]) for w in body["waves"]] == [1, 1, 2]  # default 10%/50%/100%
    assert sorted(devices.stdout.split()) == sorted(
        d["uuid"] for w in body["waves"] for d in w["devices"]
    )
    assert osc.api("GET", "/firmware_rollouts")["firmware_rollouts"] == []  # nothing started


def closed_window():
    """A maintenance window that opens in two hours: the rollout starts no job meanwhile."""
    now = dt.datetime.now(dt.UTC)
    start, end = now + dt.timedelta(hours=2), now + dt.timedelta(hours=3)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_rollout_controls_and_wait_for_an_aborted_rollout(osc):
    create = ["firmware", "rollout", "create", "--image", "vbios-new", "--model", H100]
    waiting = osc.start(*create, "--window", closed_window(), "--wait", "--interval", "0.2")
    # The waiting command created it; find it.
    uuid = wait_for(
        "the rollout --wait created",
        lambda: [r["uuid"] for r in osc.api("GET", "/firmware_rollouts")["firmware_rollouts"]],
        timeout=120,  # the openstack client's own start-up is slow on a loaded machine
    )[0]
    listed, shown, jobs = osc.many(
        ["firmware", "rollout", "list", "--state", "running", "-f", "json"],
        ["firmware", "rollout", "show", uuid, "-f", "json"],
        ["firmware", "rollout", "jobs", uuid, "--wave", "0", "--long", "-f", "json"],
    )
    assert [(r["uuid"], r["done"]) for r in json.loads(listed.stdout)] == [(uuid, 0)]
    assert json.loads(shown.stdout)["strategy"]["window"]["start"] == closed_window()[:5]
    assert [(j["wave"], j["state"]) for j in json.loads(jobs.stdout)] == [(0, "pending")]
    assert osc.json("firmware", "rollout", "pause", uuid)["state"] == "paused"
    assert osc.json("firmware", "rollout", "resume", uuid)["state"] == "running"
    assert osc.json("firmware", "rollout", "abort", uuid)["state"] == "aborted"

    done = finish(waiting, ok=False, timeout=60)
    assert done.returncode == 1
    final = json.loads(json.dumps(dict(r[:2] for r in table(done.stdout)[1:])))
    assert (final["uuid"], final["state"]) == (uuid, "aborted")
    assert f"Rollout {uuid} vbios -> {NEW_VBIOS}: running" in done.stderr  # a line per change
    assert "aborted" in done.stderr.splitlines()[-2]
    assert "The rollout ended aborted, not completed." in done.stderr
    watched = osc.run("firmware", "rollout", "show", uuid, "--watch", "-c", "state", ok=False)
    assert (watched.returncode, table(watched.stdout)[1]) == (1, ["state", "aborted"])


@pytest.mark.skipif(not ENGINE, reason="agents cannot run firmware jobs in this build")
def test_rollout_wait_completes_on_the_simulated_fleet(osc, tmp_path):
    osc.run(*image_args(tmp_path, "vbios-old", SIM_VBIOS))  # what a rollback returns to
    done = osc.run(
        "firmware", "rollout", "create", "--image", "vbios-new", "--model", H100,
        "--canary", "1", "--wave", "100%", "--wait", "--interval", "0.2", "-f", "json",
    )  # fmt: skip
    rollout = json.loads(done.stdout)
    assert (rollout["state"], rollout["counts"]["succeeded"]) == ("completed", 4)
    assert "completed" in done.stderr.splitlines()[-1]
    device = osc.api("GET", "/devices?vendor=10de")["devices"][0]["uuid"]
    firmware, _ = osc.many(
        ["device", "firmware", "show", device, "-f", "json"],
        ["device", "disable", device],
    )
    firmware = json.loads(firmware.stdout)
    assert {c["component"]: c["version"] for c in firmware["components"]}["vbios"] == NEW_VBIOS
    # The aborted rollout's cancelled job, then this one's.
    assert [(j["rollout_uuid"] == rollout["uuid"], j["state"]) for j in firmware["history"]] == [
        (False, "cancelled"), (True, "succeeded"),
    ]  # fmt: skip
    assert firmware["history"][1]["version_before"] == SIM_VBIOS
    assert osc.api("GET", f"/devices/{device}")["status"] == "maintaining"
    osc.run("device", "enable", device)
    assert osc.api("GET", f"/devices/{device}")["status"] == "enabled"

    (back,) = osc.json("firmware", "rollout", "rollback", rollout["uuid"])
    assert (back["rollback_of"], back["target_version"]) == (rollout["uuid"], SIM_VBIOS)
    watched = osc.run("firmware", "rollout", "show", back["uuid"], "--watch", "--interval", "0.2")
    assert table(watched.stdout)[1:][6] == ["state", "completed"]
    versions = osc.api("GET", f"/devices/{device}/firmware")["components"]
    assert {c["component"]: c["version"] for c in versions}["vbios"] == SIM_VBIOS
