"""A rollout driven through the real conductor service over oslo.messaging (in-process
``fake://`` transport), with agents that speak the 1.1 RPC contract: casts from the API wake
the engine, results come back as ``job_update`` calls, and nothing polls in a tight loop."""

from __future__ import annotations

import collections
import threading
import time
import types

import oslo_messaging
import pytest
import sqlalchemy as sa

from cyborg_lite import rpc
from cyborg_lite.conductor import rpcapi
from cyborg_lite.conductor.service import ConductorService
from cyborg_lite.db import models
from cyborg_lite.firmware import states
from tests import firmware_fleet as ff
from tests.conftest import make_test_conf


class BusAgent:
    """The agent side of RPC 1.1 for one host: runs each job uuid once, answers status."""

    target = oslo_messaging.Target(version="1.1")

    def __init__(self, host, conductor, flashes, fail_devices=()):
        self.host = host
        self._conductor = conductor
        self._flashes = flashes
        self._fail = set(fail_devices)
        self.jobs = {}

    def flash_firmware(self, context, job):
        if job["job_uuid"] in self.jobs:
            return
        self.jobs[job["job_uuid"]] = {"state": states.FLASHING}
        self._flashes[job["device_uuid"]] += 1
        threading.Thread(target=self._run, args=(job,), daemon=True).start()

    def _run(self, job):
        ctx = rpc.admin_context()
        self._conductor.job_update(ctx, job["job_uuid"], states.FLASHING)
        if job["device_uuid"] in self._fail:
            result = {"state": states.JOB_FAILED, "error_code": "hw-error", "message": "boom"}
        else:
            result = {"state": states.SUCCEEDED, "version": job["target_version"]}
        self.jobs[job["job_uuid"]] = result
        self._conductor.job_update(
            ctx,
            job["job_uuid"],
            result["state"],
            version=result.get("version"),
            error_code=result.get("error_code"),
            message=result.get("message"),
        )

    def job_status(self, context, job_uuid):
        return self.jobs.get(job_uuid)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def rollout_state(db, uuid):
    with db.transaction() as s:
        return s.scalar(sa.select(models.Rollout.state).where(models.Rollout.uuid == uuid))


@pytest.fixture
def bus(db, tmp_path):
    conf = make_test_conf(
        str(tmp_path),
        **{
            "conductor.rollout_sweep_seconds": 0.5,
            "conductor.rollout_lease_seconds": 5.0,
        },
    )
    transport = rpc.get_transport(conf)
    conductor = ConductorService(conf, db, transport, None)
    conductor.start()
    servers = []
    flashes = collections.Counter()

    def add_agents(hosts, fail_devices=()):
        client = rpcapi.ConductorAPI(transport, timeout=10)
        for host in hosts:
            agent = BusAgent(host, client, flashes, fail_devices)
            server = rpc.get_server(transport, rpc.AGENT_TOPIC, host, [agent])
            server.start()
            servers.append(server)

    yield types.SimpleNamespace(transport=transport, add_agents=add_agents, flashes=flashes)
    for server in servers:
        server.stop()
        server.wait()
    conductor.stop()
    transport.cleanup()


def test_rollout_over_the_bus(db, bus):
    transport, add_agents, flashes = bus.transport, bus.add_agents, bus.flashes
    devices = ff.fleet(db, hosts=6, per_host=2)
    add_agents([f"node{h:03d}" for h in range(6)])
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {"canary": 1, "waves": ["50%", "100%"], "max_in_flight": 3},
    )
    # The API's cast: the engine starts at once, not at the next sweep.
    rpcapi.ConductorAPI(transport).rollout_changed(rpc.admin_context(), uuid)
    wait_for(lambda: rollout_state(db, uuid) == states.COMPLETED)
    assert set(flashes) == {d["device_uuid"] for d in devices}
    assert set(flashes.values()) == {1}
    with db.transaction() as s:
        versions = set(s.scalars(sa.select(models.FirmwareComponent.version)))
    assert versions == {ff.NEW}


def test_sweep_picks_up_a_rollout_without_a_cast(db, bus):
    _transport, add_agents, flashes = bus.transport, bus.add_agents, bus.flashes
    ff.fleet(db, hosts=2, per_host=1)
    add_agents(["node000", "node001"])
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"hosts": ["node000", "node001"]},
        {"canary": 0, "waves": ["100%"], "max_in_flight": 2},
    )
    wait_for(lambda: rollout_state(db, uuid) == states.COMPLETED)
    assert sum(flashes.values()) == 2


def test_failures_halt_over_the_bus(db, bus):
    transport, add_agents, flashes = bus.transport, bus.add_agents, bus.flashes
    devices = ff.fleet(db, hosts=4, per_host=1)
    add_agents([f"node{h:03d}" for h in range(4)], fail_devices=[d["device_uuid"] for d in devices])
    uuid = ff.rollout(
        db,
        ff.image(db),
        {"models": ["NVIDIA H100 80GB HBM3"]},
        {
            "canary": 0,
            "waves": ["100%"],
            "max_in_flight": 1,
            "failure_budget": {"count": 2, "rate": 1.0},
        },
    )
    rpcapi.ConductorAPI(transport).rollout_changed(rpc.admin_context(), uuid)
    wait_for(lambda: rollout_state(db, uuid) == states.HALTED)
    assert sum(flashes.values()) == 2  # halted at the budget: nothing more started
