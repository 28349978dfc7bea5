"""Firmware rollouts end to end, with processes started as a user would start them.

The simulated driver's ledger records every flash attempt (host, device, start and end time),
so the checks are on what really happened: each device flashed once, the limits held at every
instant, and a dry run named exactly the devices the rollout then flashed.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import signal
import urllib.request

import pytest

from tests import services
from tests.functional.test_e2e import Processes, free_port, get, try_get
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

V24 = {"OpenStack-API-Version": "accelerator 2.4"}
MODEL = "NVIDIA H100 80GB HBM3"
TARGET = "96.00.A1.00.01"
FINAL = ("completed", "failed", "halted", "aborted")


@pytest.fixture
def procs(tmp_path):
    p = Processes(str(tmp_path))
    try:
        yield p
    finally:
        p.stop_all()


def send(port, method, path, body=None, data=None, headers=None):
    raw = json.dumps(body).encode() if body is not None else data
    kind = "application/json" if body is not None else "application/octet-stream"
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        raw,
        {**V24, "Content-Type": kind, **(headers or {})},
        method=method,
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        return json.loads(resp.read())


def upload_image(port):
    data = f"simulated vbios {TARGET}\n".encode() * 64
    image = send(
        port,
        "POST",
        "/v2/firmware_images",
        {
            "name": "H100 vbios",
            "vendor": "10de",
            "component": "vbios",
            "version": TARGET,
            "device_ids": ["2330"],
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    send(port, "PUT", f"/v2/firmware_images/{image['uuid']}/file", data=data)
    return image["uuid"]


def ledger(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def max_overlap(intervals):
    """The most intervals open at one instant (end before start at equal times)."""
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def all_jobs(port, rollout):
    return send(port, "GET", f"/v2/firmware_rollouts/{rollout}/jobs?limit=1000")["jobs"]


def test_fleet_rollout_on_the_all_in_one(tmp_path, procs):
    port = free_port()
    state = tmp_path / "state"
    conf = tmp_path / "aio.conf"
    conf.write_text(
        f"[DEFAULT]\nstate_path = {state}\n"
        f"[api]\nport = {port}\n"
        "[aio]\nsimulated_hosts = 50\nlocal_agent = false\n"
        "[simulated]\ndevices = nvidia-h100:4\nflash_seconds = 0.3\n"
        # No [agent] api_endpoint: the all-in-one's agents follow its own [api] port.
        "[agent]\nreport_interval = 5\nheartbeat_interval = 2\n"
        "[conductor]\nrollout_sweep_seconds = 1\n"
    )
    procs.start("aio", "cyborg-lite-aio", "--config-file", str(conf))
    try:
        wait_for(
            "200 simulated GPUs",
            lambda: (
                len((try_get(port, "/v2/devices?type=GPU&limit=1000") or {}).get("devices", []))
                == 200
            ),
            timeout=120,
        )
        image = upload_image(port)
        body = {
            "image_uuid": image,
            "selector": {"models": [MODEL]},
            "strategy": {
                "canary": 2,
                "waves": ["10%", "50%", "100%"],
                "max_in_flight": 25,
                "max_in_flight_per_host": 1,
                "failure_budget": {"count": 1, "rate": 0.1},
            },
        }
        plan = send(port, "POST", "/v2/firmware_rollouts", {**body, "dry_run": True})
        assert [len(w["devices"]) for w in plan["waves"]] == [2, 18, 80, 100]
        rollout = send(port, "POST", "/v2/firmware_rollouts", body)["uuid"]
        done = wait_for(
            "the rollout to end",
            lambda: (
                (r := try_get(port, f"/v2/firmware_rollouts/{rollout}", V24))
                and r["state"] in FINAL
                and r
            ),
            timeout=300,
            every=0.5,
        )
        assert done["state"] == "completed", done
        assert done["counts"]["succeeded"] == 200

        jobs = all_jobs(port, rollout)
        planned = {d["uuid"] for w in plan["waves"] for d in w["devices"]}
        assert {j["device_uuid"] for j in jobs} == planned  # the dry run was the truth
        lines = [
            e
            for e in ledger(state / "simulated" / "flash-ledger.jsonl")
            if e["component"] == "vbios"
        ]
        assert all(e["result"] == "ok" for e in lines)
        flashes = collections.Counter((e["host"], e["device"]) for e in lines)
        assert len(flashes) == 200
        assert set(flashes.values()) == {1}  # each device flashed exactly once
        spans = [(e["started_at"], e["finished_at"]) for e in lines]
        assert max_overlap(spans) <= 25
        by_host = collections.defaultdict(list)
        for e in lines:
            by_host[e["host"]].append((e["started_at"], e["finished_at"]))
        assert all(max_overlap(s) == 1 for s in by_host.values())
        # Waves in order: no flash of a wave began before the previous wave's last one ended.
        wave_of = {j["device_uuid"]: j["wave"] for j in jobs}
        ends = collections.defaultdict(str)
        starts = collections.defaultdict(lambda: "9999")
        for j in jobs:
            ends[j["wave"]] = max(ends[j["wave"]], j["finished_at"])
            starts[j["wave"]] = min(starts[j["wave"]], j["started_at"])
        assert all(starts[w + 1] >= ends[w] for w in range(3)), (starts, ends)
        assert len(wave_of) == 200
        versions = {
            d["uuid"]: None for d in get(port, "/v2/devices?type=GPU&limit=1000", V24)["devices"]
        }
        for uuid in list(versions)[:10]:  # the inventory shows the new version (sampled)
            fw = send(port, "GET", f"/v2/devices/{uuid}/firmware")
            assert {c["component"]: c["version"] for c in fw["components"]}["vbios"] == TARGET
    except AssertionError:
        print(procs.logs())
        raise


def test_conductor_and_agent_killed_mid_rollout_over_rabbitmq(tmp_path, procs):
    with services.rabbit_vhost() as url:
        port = free_port()
        state = tmp_path / "state"
        conf = tmp_path / "e2e.conf"
        conf.write_text(
            f"[DEFAULT]\nstate_path = {state}\ntransport_url = {url}\nhost = fleet\n"
            f"[api]\nport = {port}\nworkers = 1\n"
            "[simulated]\ndevices = nvidia-h100:2\nflash_seconds = 1.5\n"
            "[agent]\nreport_interval = 3\nheartbeat_interval = 1\nrpc_timeout = 10\n"
            f"api_endpoint = http://127.0.0.1:{port}\n"
            "[conductor]\nrollout_sweep_seconds = 0.5\nrollout_lease_seconds = 3\n"
            "firmware_job_timeout = 20\nhost_down_after = 30\n"
        )
        args = ("--config-file", str(conf))
        procs.start("manage", "cyborg-lite-manage", *args, "db", "upgrade").wait(60)
        procs.running.pop("manage")
        procs.start("conductor", "cyborg-lite-conductor", *args)
        procs.start("api", "cyborg-lite-api", *args)
        wait_for("the API", lambda: try_get(port, "/v2"), timeout=60)
        procs.start("agents", "cyborg-lite-agent", *args, "--simulated-hosts", "8")
        try:
            wait_for(
                "16 GPUs",
                lambda: len((try_get(port, "/v2/devices?type=GPU") or {}).get("devices", [])) == 16,
                timeout=90,
            )
            image = upload_image(port)
            rollout = send(
                port,
                "POST",
                "/v2/firmware_rollouts",
                {
                    "image_uuid": image,
                    "selector": {"models": [MODEL]},
                    "strategy": {
                        "canary": 0,
                        "waves": ["100%"],
                        "max_in_flight": 4,
                        "failure_budget": {"count": 0, "rate": 1.0},
                    },
                },
            )["uuid"]

            def states():
                return collections.Counter(j["state"] for j in all_jobs(port, rollout))

            # The conductor dies mid-wave; a new one takes the rollout over after the lease.
            wait_for("4 jobs done", lambda: states()["succeeded"] >= 4, timeout=120)
            procs.kill("conductor", signal.SIGKILL)
            procs.start("conductor", "cyborg-lite-conductor", *args)
            # The agents die mid-flash; restarted, they report what happened.
            wait_for("a job flashing", lambda: states()["flashing"] >= 1, timeout=120, every=0.05)
            procs.kill("agents", signal.SIGKILL)
            procs.start("agents", "cyborg-lite-agent", *args, "--simulated-hosts", "8")
            done = wait_for(
                "the rollout to end",
                lambda: (
                    (r := try_get(port, f"/v2/firmware_rollouts/{rollout}", V24))
                    and r["state"] in FINAL
                    and r
                ),
                timeout=240,
                every=0.5,
            )
            final = states()
            assert not set(final) - {"succeeded", "failed"}, final  # nothing left in flight
            assert done["state"] in ("completed", "failed")
            jobs = all_jobs(port, rollout)
            failed = [j for j in jobs if j["state"] == "failed"]
            # Only a flash the agent's death cut short may fail, and it says so.
            assert all(j["error_code"] == "interrupted" for j in failed), failed
            assert final["succeeded"] >= 12
            lines = [
                e
                for e in ledger(state / "simulated" / "flash-ledger.jsonl")
                if e["component"] == "vbios"
            ]
            flashes = collections.Counter((e["host"], e["device"]) for e in lines)
            assert len(flashes) >= final["succeeded"]
            assert set(flashes.values()) == {1}  # no device flashed twice
        except AssertionError:
            print(procs.logs())
            raise


def test_failure_budget_halts_then_resume_completes(tmp_path, procs):
    port = free_port()
    state = tmp_path / "state"

    def start_aio(failure_rate):
        conf = tmp_path / f"aio-{failure_rate}.conf"
        conf.write_text(
            f"[DEFAULT]\nstate_path = {state}\n"
            f"[api]\nport = {port}\n"
            "[aio]\nsimulated_hosts = 25\nlocal_agent = false\n"
            "[simulated]\ndevices = nvidia-h100:4\nflash_seconds = 0.05\n"
            f"flash_failure_rate = {failure_rate}\n"
            "[agent]\nreport_interval = 5\nheartbeat_interval = 2\n"
            f"api_endpoint = http://127.0.0.1:{port}\n"
            "[conductor]\nrollout_sweep_seconds = 1\n"
        )
        procs.start("aio", "cyborg-lite-aio", "--config-file", str(conf))
        wait_for(
            "100 GPUs",
            lambda: (
                len((try_get(port, "/v2/devices?type=GPU&limit=1000") or {}).get("devices", []))
                == 100
            ),
            timeout=120,
        )

    def rollout_when(uuid, wanted):
        return wait_for(
            f"rollout {wanted}",
            lambda: (
                (r := try_get(port, f"/v2/firmware_rollouts/{uuid}", V24))
                and r["state"] in wanted
                and r
            ),
            timeout=240,
            every=0.5,
        )

    try:
        # A 30 % flash failure rate against a budget of 10 % of the wave (10 devices).
        start_aio(0.3)
        image = upload_image(port)
        rollout = send(
            port,
            "POST",
            "/v2/firmware_rollouts",
            {
                "image_uuid": image,
                "selector": {"models": [MODEL]},
                "strategy": {
                    "canary": 0,
                    "waves": ["100%"],
                    "max_in_flight": 5,
                    "failure_budget": {"count": 0, "rate": 0.1},
                },
            },
        )["uuid"]
        halted = rollout_when(rollout, FINAL)
        assert halted["state"] == "halted", halted
        assert "failure budget" in halted["message"]
        failed = halted["counts"]["failed"]
        # Halted within the wave's budget: at most the jobs already in flight finished after.
        assert 10 <= failed <= 10 + 5
        assert halted["counts"]["pending"] > 0  # nothing more was started
        # The failures are understood and fixed (here: the failure rate drops to 0).
        procs.kill("aio")
        start_aio(0.0)
        resumed = send(
            port, "POST", f"/v2/firmware_rollouts/{rollout}/action", {"action": "resume"}
        )
        assert resumed["state"] == "running"
        done = rollout_when(rollout, FINAL)
        assert done["state"] == "completed", done
        counts = done["counts"]
        assert counts["failed"] >= failed  # history kept: earlier failures stay failed
        assert counts["succeeded"] + counts["failed"] == 100
        assert not any(
            counts[s] for s in ("pending", "draining", "dispatched", "flashing", "verifying")
        )
        lines = [
            e
            for e in ledger(state / "simulated" / "flash-ledger.jsonl")
            if e["component"] == "vbios"
        ]
        flashes = collections.Counter((e["host"], e["device"]) for e in lines)
        assert set(flashes.values()) == {1}  # a failed device is not retried behind one's back
    except AssertionError:
        print(procs.logs())
        raise
