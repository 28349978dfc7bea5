"""RabbitMQ connections dropped while agents report and a rollout runs.

Real processes (``cyborg-lite-conductor``, ``cyborg-lite-agent --simulated-hosts 4``,
``cyborg-lite-api``) on the test's own RabbitMQ virtual host. Mid-rollout every connection to
that vhost is closed by the broker (``rabbitmqctl close_all_connections -p <vhost>``), twice;
the shared broker itself is never restarted and no other vhost is touched. Agents and
conductor reconnect, the rollout completes with each device flashed once, and the inventory
converges on what the agents report (no report lost for good).
"""

from __future__ import annotations

import collections
import subprocess
import time

import pytest

from tests import services
from tests.functional.test_e2e import free_port, try_get
from tests.functional.test_rollout_e2e import (
    FINAL,
    MODEL,
    TARGET,
    V24,
    all_jobs,
    ledger,
    procs,  # noqa: F401 - the fixture
    send,
    upload_image,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

HOSTS = 4
GPUS = HOSTS * 2
DROPS = 2


def drop_connections(vhost: str) -> None:
    """Close every client connection to ``vhost`` (and only to it)."""
    subprocess.run(
        ["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "test: connections dropped"],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_connections_dropped_mid_rollout_lose_nothing(tmp_path, procs):  # noqa: F811
    with services.rabbit_vhost() as url:
        vhost = url.rsplit("/", 1)[1]
        port = free_port()
        state = tmp_path / "state"
        conf = tmp_path / "broker.conf"
        conf.write_text(
            f"[DEFAULT]\nstate_path = {state}\ntransport_url = {url}\nhost = fleet\n"
            f"[api]\nport = {port}\nworkers = 1\n"
            "[simulated]\ndevices = nvidia-h100:2\nflash_seconds = 1.0\n"
            "[agent]\nreport_interval = 2\nheartbeat_interval = 1\nrpc_timeout = 10\n"
            f"api_endpoint = http://127.0.0.1:{port}\n"
            "[conductor]\nrollout_sweep_seconds = 0.5\nrollout_lease_seconds = 5\n"
            "firmware_job_timeout = 20\nhost_down_after = 60\n"
        )
        args = ("--config-file", str(conf))
        procs.start("manage", "cyborg-lite-manage", *args, "db", "upgrade").wait(60)
        procs.running.pop("manage")
        procs.start("conductor", "cyborg-lite-conductor", *args)
        procs.start("api", "cyborg-lite-api", *args)
        wait_for("the API", lambda: try_get(port, "/v2"), timeout=60)
        procs.start("agents", "cyborg-lite-agent", *args, "--simulated-hosts", str(HOSTS))
        try:
            wait_for(
                f"{GPUS} GPUs",
                lambda: (
                    len((try_get(port, "/v2/devices?type=GPU") or {}).get("devices", [])) == GPUS
                ),
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
                    "strategy": {"canary": 0, "waves": ["100%"], "max_in_flight": 3},
                },
            )["uuid"]

            def counts():
                return collections.Counter(j["state"] for j in all_jobs(port, rollout))

            # Drop every connection as jobs run: between dispatch and result, mid-report.
            for n in range(DROPS):
                wait_for(
                    f"{2 * (n + 1)} jobs done before drop {n + 1}",
                    lambda n=n: counts()["succeeded"] >= 2 * (n + 1),
                    timeout=120,
                )
                drop_connections(vhost)
                time.sleep(0.5)  # let the reconnects begin before the next look
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
            assert done["state"] == "completed", (done, counts())
            assert counts() == {"succeeded": GPUS}
            flashes = collections.Counter(
                (e["host"], e["device"])
                for e in ledger(state / "simulated" / "flash-ledger.jsonl")
                if e["component"] == "vbios"
            )
            assert len(flashes) == GPUS
            assert set(flashes.values()) == {1}  # reconnects re-sent nothing twice

            # The inventory converges on the agents' latest reports: every host up, every
            # GPU's firmware at the target, as reported after the flash.
            def converged():
                hosts = (try_get(port, "/v2/hosts", V24) or {}).get("hosts", [])
                devices = (try_get(port, "/v2/devices?type=GPU", V24) or {}).get("devices", [])
                if len(devices) != GPUS or len(hosts) != HOSTS:
                    return False
                if {h["state"] for h in hosts} != {"up"}:
                    return False
                versions = set()
                for d in devices:
                    firmware = try_get(port, f"/v2/devices/{d['uuid']}/firmware", V24) or {}
                    versions |= {
                        c["version"]
                        for c in firmware.get("components", [])
                        if c["component"] == "vbios"
                    }
                return versions == {TARGET}

            wait_for("the inventory to converge", converged, timeout=90, every=1)
        except AssertionError:
            print(procs.logs())
            raise
