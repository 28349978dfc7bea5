"""Three conductors sharing a fleet, as processes on PostgreSQL and RabbitMQ (issue 18): a
rollout across the simulated hosts, the conductor holding its lease killed with SIGKILL
mid-wave, the other two carry on at once and drop it from the ring after ``dead_after``;
the rollout completes, every device is flashed exactly once (the simulated driver's ledger),
and each of the three conductors dispatched part of the jobs (``rollout_jobs.dispatched_by``).
"""

from __future__ import annotations

import collections
import signal

import pytest
import sqlalchemy as sa

from tests import services
from tests.functional.test_e2e import Processes, free_port, try_get
from tests.functional.test_rollout_e2e import (
    FINAL,
    MODEL,
    V24,
    all_jobs,
    ledger,
    send,
    upload_image,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
CONDUCTORS = ("ctl1", "ctl2", "ctl3")


@pytest.fixture
def procs(tmp_path):
    p = Processes(str(tmp_path))
    try:
        yield p
    finally:
        p.stop_all()


def lease_owner(engine, rollout):
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT lease_owner FROM rollouts WHERE uuid = :u"), {"u": rollout}
        ).scalar()


def dispatchers(engine, rollout):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT j.dispatched_by FROM rollout_jobs j JOIN rollouts r"
                " ON r.id = j.rollout_id WHERE r.uuid = :u"
            ),
            {"u": rollout},
        )
        return collections.Counter(str(name).split(":")[0] for (name,) in rows)


def live_conductors(engine):
    with engine.connect() as conn:
        return {
            name.split(":")[0]
            for (name,) in conn.execute(
                sa.text(
                    "SELECT name FROM conductors WHERE heartbeat_at >= "
                    "(now() at time zone 'utc') - interval '4 seconds'"
                )
            )
        }


def test_three_conductors_one_killed_mid_wave(tmp_path, procs):
    with services.server_database("postgresql") as db_url, services.rabbit_vhost() as bus_url:
        port = free_port()
        state = tmp_path / "state"
        conf = tmp_path / "fleet.conf"
        conf.write_text(
            f"[DEFAULT]\nstate_path = {state}\ntransport_url = {bus_url}\nhost = fleet\n"
            f"[database]\nconnection = {db_url}\n"
            f"[api]\nport = {port}\nworkers = 1\n"
            "[simulated]\ndevices = nvidia-h100:2\nflash_seconds = 0.5\n"
            # Results one per message (no batching): the broker's round robin then spreads
            # them over the conductors, so each one's share does not hang on a few batches.
            "[agent]\nreport_interval = 3\nheartbeat_interval = 1\nrpc_timeout = 10\n"
            "result_batch_seconds = 0\n"
            f"api_endpoint = http://127.0.0.1:{port}\n"
            "[conductor]\nrollout_sweep_seconds = 0.5\nrollout_lease_seconds = 3\n"
            "firmware_job_timeout = 20\nhost_down_after = 30\n"
            "heartbeat_interval = 0.5\ndead_after = 3\n"
        )
        args = ("--config-file", str(conf))
        procs.start("manage", "cyborg-lite-manage", *args, "db", "upgrade").wait(60)
        procs.running.pop("manage")
        for name in CONDUCTORS:
            own = tmp_path / f"{name}.conf"
            own.write_text(f"[DEFAULT]\nhost = {name}\n")
            procs.start(name, "cyborg-lite-conductor", *args, "--config-file", str(own))
        procs.start("api", "cyborg-lite-api", *args)
        wait_for("the API", lambda: try_get(port, "/v2"), timeout=60)
        procs.start("agents", "cyborg-lite-agent", *args, "--simulated-hosts", "16")
        engine = sa.create_engine(db_url)
        try:
            wait_for(
                "32 GPUs",
                lambda: (
                    len((try_get(port, "/v2/devices?type=GPU&limit=100") or {}).get("devices", []))
                    == 32
                ),
                timeout=120,
            )
            wait_for("three live conductors", lambda: live_conductors(engine) == set(CONDUCTORS))
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
                        "max_in_flight": 6,
                        "max_in_flight_per_host": 1,
                        "failure_budget": {"count": 0, "rate": 1.0},
                    },
                },
            )["uuid"]

            def succeeded():
                return sum(j["state"] == "succeeded" for j in all_jobs(port, rollout))

            # Mid-wave, the conductor holding the rollout's lease dies without a word.
            wait_for("8 jobs done", lambda: succeeded() >= 8, timeout=120, every=0.1)
            victim = str(lease_owner(engine, rollout)).split(":")[0]
            assert victim in CONDUCTORS
            procs.kill(victim, signal.SIGKILL)
            survivors = set(CONDUCTORS) - {victim}
            done = wait_for(
                "the rollout to end",
                lambda: (
                    (r := try_get(port, f"/v2/firmware_rollouts/{rollout}", V24))
                    and r["state"] in FINAL
                    and r
                ),
                timeout=180,
                every=0.5,
            )
            assert done["state"] == "completed", done
            assert done["counts"]["succeeded"] == 32
            lines = [
                e
                for e in ledger(state / "simulated" / "flash-ledger.jsonl")
                if e["component"] == "vbios"
            ]
            flashes = collections.Counter((e["host"], e["device"]) for e in lines)
            assert len(flashes) == 32
            assert set(flashes.values()) == {1}  # exactly once, the kill notwithstanding
            by = dispatchers(engine, rollout)
            assert set(by) == set(CONDUCTORS), by  # each conductor dispatched part of them
            assert sum(by.values()) == 32
            # The dead one is out of the ring: the survivors say so, and its beat is stale.
            wait_for("the victim's beat to go stale", lambda: live_conductors(engine) == survivors)
            for name in survivors:
                wait_for(
                    f"{name} to drop {victim}",
                    lambda name=name: f"gone {victim}:" in procs.log(name),
                    timeout=30,
                )
        except AssertionError:
            print(procs.logs())
            raise
        finally:
            procs.stop_all()
            engine.dispose()
