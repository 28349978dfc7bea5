"""Duplicate, late and out-of-order messages, and clock jumps, through the real RPC endpoints.

The conductor service runs on oslo.messaging's in-process ``fake://`` transport; agents
deliver their job results twice and a stale "flashing" after the result, reports arrive twice
or out of order, and the conductor's clock jumps back and forth mid-rollout. None of it may
flash a device twice, move a job backwards, or leave the inventory other than the agent's
latest report says.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import sqlalchemy as sa

from cyborg_lite import rpc
from cyborg_lite.conductor import rpcapi
from cyborg_lite.conductor.rollout_io import Settings
from cyborg_lite.conductor.rollout_watch import Watchdog
from cyborg_lite.db import models
from cyborg_lite.firmware import states
from tests import firmware_fleet as ff

# Fixtures (bus, agents, clock) are shared with the modules that define them.
from tests.functional.test_rollout_bus import BusAgent, bus, rollout_state, wait_for  # noqa: F401
from tests.functional.test_rollout_engine import agents, clock, job_states, make_engine  # noqa: F401


class ReplayingAgent(BusAgent):
    """Sends every result twice, then a stale "flashing", as a redelivering broker might."""

    def _run(self, job):
        super()._run(job)
        ctx = rpc.admin_context()
        result = self.jobs[job["job_uuid"]]
        for _ in range(2):
            self._conductor.job_update(
                ctx, job["job_uuid"], result["state"], version=result.get("version")
            )
        self._conductor.job_update(ctx, job["job_uuid"], states.FLASHING)
        self._conductor.job_update(ctx, job["job_uuid"], states.JOB_FAILED, error_code="hw-error")


def job_rows(db):
    with db.transaction() as s:
        return s.execute(
            sa.select(
                models.RolloutJob.uuid,
                models.RolloutJob.state,
                models.RolloutJob.finished_at,
                models.RolloutJob.error_code,
            )
        ).all()


def test_duplicate_and_stale_job_results_over_rpc_change_nothing(db, bus):  # noqa: F811
    devices = ff.fleet(db, hosts=3, per_host=1)
    client = rpcapi.ConductorAPI(bus.transport, timeout=10)
    servers = []
    for h in range(3):
        agent = ReplayingAgent(f"node{h:03d}", client, bus.flashes)
        server = rpc.get_server(bus.transport, rpc.AGENT_TOPIC, agent.host, [agent])
        server.start()
        servers.append(server)
    try:
        uuid = ff.rollout(
            db,
            ff.image(db),
            {"models": ["NVIDIA H100 80GB HBM3"]},
            {"canary": 0, "waves": ["100%"], "max_in_flight": 3},
        )
        client.rollout_changed(rpc.admin_context(), uuid)
        wait_for(lambda: rollout_state(db, uuid) == states.COMPLETED)
        wait_for(lambda: sum(bus.flashes.values()) == 3)
        first = job_rows(db)
        # Once more, straight at the endpoint, after everything settled.
        ctx = rpc.admin_context()
        for job_uuid, *_ in first:
            answer = client.job_update(ctx, job_uuid, states.SUCCEEDED, version="0.0.0")
            assert answer == {"accepted": False}
            answer = client.job_update(ctx, job_uuid, states.DISPATCHED)
            assert answer == {"accepted": False}
    finally:
        for server in servers:
            server.stop()
            server.wait()
    assert {row.state for row in first} == {states.SUCCEEDED}
    assert {row.error_code for row in first} == {None}
    assert job_rows(db) == first  # finished_at and all: untouched by the repeats
    assert set(bus.flashes) == {d["device_uuid"] for d in devices}
    assert set(bus.flashes.values()) == {1}
    with db.transaction() as s:
        assert set(s.scalars(sa.select(models.FirmwareComponent.version))) == {ff.NEW}


def report(host, models_by_slot, seq=None):
    devices = [
        {
            "stable_id": f"0000:{slot:02x}:00.0",
            "type": "GPU",
            "vendor": "10de",
            "model": model,
            "driver": "simulated",
            "pci_address": f"0000:{slot:02x}:00.0",
            "deployables": [],
            "firmware": [],
        }
        for slot, model in sorted(models_by_slot.items())
    ]
    digest = json.dumps(models_by_slot, sort_keys=True)
    out = {"host": host, "digest": digest, "devices": devices, "agent_version": "test"}
    if seq is not None:
        out["seq"] = seq
    return out


def device_models(db, host):
    with db.transaction() as s:
        rows = s.execute(
            sa.select(models.Device.stable_id, models.Device.model).where(
                models.Device.hostname == host
            )
        ).all()
    return dict(rows)


def host_row(db, host):
    with db.transaction() as s:
        return s.execute(
            sa.select(
                models.Host.report_seq,
                models.Host.report_digest,
                models.Host.last_heartbeat,
                models.Host.updated_at,
            ).where(models.Host.hostname == host)
        ).one()


def device_rows(db, host):
    with db.transaction() as s:
        return s.execute(
            sa.select(models.Device.uuid, models.Device.generation, models.Device.updated_at).where(
                models.Device.hostname == host
            )
        ).all()


def test_duplicate_and_out_of_order_reports_change_nothing(db, bus):  # noqa: F811
    client = rpcapi.ConductorAPI(bus.transport, timeout=10)
    ctx = rpc.admin_context()
    # seq as agent.reportseq makes them: generation 3, reports 1 and 2.
    old = report("node-r", {0x3B: "H100"}, seq=(3 << 32) + 1)
    new = report("node-r", {0x3B: "H100", 0x5E: "H200"}, seq=(3 << 32) + 2)
    assert client.report_inventory(ctx, old)["applied"] is True
    assert client.report_inventory(ctx, new)["applied"] is True
    # The same report twice: the second writes only the heartbeat.
    assert client.report_inventory(ctx, new) == {"applied": False, "events": 0, "stale": False}
    latest = device_models(db, "node-r")
    assert latest == {"0000:3b:00.0": "H100", "0000:5e:00.0": "H200"}
    host, devices = host_row(db, "node-r"), device_rows(db, "node-r")
    # The older report redelivered late: ignored whole, devices and host row alike.
    answer = client.report_inventory(ctx, old)
    assert answer == {"applied": False, "events": 0, "stale": True, "seq": new["seq"]}
    assert device_models(db, "node-r") == latest
    assert device_rows(db, "node-r") == devices
    assert host_row(db, "node-r") == host
    # So the agent's next heartbeat, with its current digest, has nothing to ask for.
    assert client.heartbeat(ctx, "node-r", "test", new["digest"]) == {"report_wanted": False}
    # Even from a restarted agent's earlier run (a lower generation), or a report without seq
    # from an agent before 1.2, which is applied whenever it arrives, as it always was.
    earlier_run = report("node-r", {0x5E: "H200"}, seq=(2 << 32) + 9)
    assert client.report_inventory(ctx, earlier_run)["stale"] is True
    assert device_models(db, "node-r") == latest
    assert client.report_inventory(ctx, report("node-r", {0x3B: "H100"}))["applied"] is True
    assert device_models(db, "node-r") == {"0000:3b:00.0": "H100"}


@pytest.mark.parametrize("jump", [-3600, 2 * 86400])
def test_clock_jumps_mid_rollout_flash_nothing_twice(db, agents, clock, jump):  # noqa: F811
    devices = ff.fleet(db, hosts=4, per_host=1)
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {"canary": 1, "waves": ["100%"], "max_in_flight": 2},
    )
    settings = Settings(job_timeout_seconds=600, lease_seconds=30)
    engine = make_engine(db, agents, clock, owner="a", lease_seconds=30, job_timeout_seconds=600)
    watchdog = Watchdog(engine, db, agents, settings, clock)
    engine.advance(uuid)
    assert len(agents.running) == 1  # the canary
    clock.now += dt.timedelta(seconds=jump)
    # The watchdog runs at the jumped time: a job "overdue" by a forward jump is asked about
    # (the agent says it is still flashing) rather than sent again or failed.
    watchdog.check(uuid)
    engine.advance(uuid)
    for _ in range(10):
        if not agents.running:
            break
        agents.drain_all(engine)
        clock.tick(1)
        engine.advance(uuid)
        watchdog.check(uuid)
    assert job_states(db, uuid) == {states.SUCCEEDED: 4}
    assert set(agents.flashed) == {d["device_uuid"] for d in devices}
    assert set(agents.flashed.values()) == {1}


def test_concurrent_duplicate_results_apply_once(db, agents, clock):  # noqa: F811
    ff.fleet(db, hosts=1, per_host=1)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000"]}, {"canary": 0})
    engine = make_engine(db, agents, clock)
    engine.advance(uuid)
    [job_uuid] = agents.running
    engine.job_update(job_uuid, states.FLASHING)
    accepted = []
    barrier = threading.Barrier(4)

    def deliver():
        barrier.wait()
        accepted.append(engine.job_update(job_uuid, states.SUCCEEDED, version=ff.NEW))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(accepted) == [False, False, False, True]
    assert job_states(db, uuid) == {states.SUCCEEDED: 1}
