"""Real agents (``AgentService`` with the simulated driver) under the real conductor service,
over oslo.messaging's in-process transport: the agents report their devices, a rollout is
planned from those reports, the engine dispatches, the agents download (from a loopback image
server), flash, verify and report back, and the rollout completes; a reboot-level component
ends ``pending_activation`` and is settled by the report after the host "reboots"."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from keystoneauth1 import session as ks_session

from cyborg_lite import rpc
from cyborg_lite.agent import images
from cyborg_lite.agent import service as agent_service
from cyborg_lite.conductor import rpcapi
from cyborg_lite.conductor.service import ConductorService
from cyborg_lite.db import migration, models
from cyborg_lite.db.engine import Database
from cyborg_lite.drivers.simulated import SimulatedDriver
from cyborg_lite.firmware import states
from tests import firmware_fleet as ff
from tests.conftest import make_test_conf
from tests.firmware_agent import ImageServer, image_bytes
from tests.waiting import wait_for

HOSTS = ["node-a", "node-b"]


def add_image(db, component, version, device_id, data):
    """An active catalog image whose bytes the image server will serve."""
    with db.transaction() as s:
        img = models.FirmwareImage(
            name=f"{component} {version}",
            vendor="8086" if component.startswith("fpga") else "10de",
            component=component,
            version=version,
            device_ids=json.dumps([device_id]),
            models="[]",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            status="active",
            signed=False,
        )
        s.add(img)
        s.flush()
        return img.uuid


@pytest.fixture
def db(tmp_path):
    """One SQLite database: the engine's backend matrix is tested elsewhere; this is about
    the agents."""
    database = Database("sqlite:///" + str(tmp_path / "rollout.sqlite"))
    migration.upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def fleet(db, tmp_path):
    conf = make_test_conf(str(tmp_path / "conductor"), **{"conductor.rollout_sweep_seconds": 0.5})
    transport = rpc.get_transport(conf)
    conductor = ConductorService(conf, db, transport, None)
    conductor.start()
    agents = {}
    ledger_path = tmp_path / "ledger.jsonl"

    def start_agent(host):
        aconf = make_test_conf(str(tmp_path / host))
        aconf.set_override("host", host)
        aconf.set_override("devices", ["nvidia-h100:2", "intel-n6001:1"], group="simulated")
        aconf.set_override("flash_seconds", 0, group="simulated")
        aconf.set_override("ledger_path", str(ledger_path), group="simulated")
        aconf.set_override("heartbeat_interval", 0.2, group="agent")
        source = images.ImageSource(server.url, str(tmp_path / host / "dl"), ks_session.Session())
        driver = SimulatedDriver(aconf)
        agent = agent_service.AgentService(
            aconf,
            transport,
            rpcapi.ConductorAPI(transport, timeout=10),
            [driver],
            image_source=source,
        )
        agent.start()
        agents[host] = agent
        return driver

    with ImageServer().running() as server:
        try:
            yield server, start_agent, agents, ledger_path, transport
        finally:
            for agent in agents.values():
                agent.stop()
            conductor.stop()
            transport.cleanup()


def rollout_state(db, uuid):
    with db.transaction() as s:
        return s.scalar(sa.select(models.Rollout.state).where(models.Rollout.uuid == uuid))


def job_states(db, uuid):
    with db.transaction() as s:
        rollout_id = s.scalar(sa.select(models.Rollout.id).where(models.Rollout.uuid == uuid))
        return sorted(
            s.scalars(
                sa.select(models.RolloutJob.state).where(models.RolloutJob.rollout_id == rollout_id)
            )
        )


def devices_reported(db, count):
    with db.transaction() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(models.Device)) == count


def flashes(ledger_path):
    if not ledger_path.exists():
        return []
    return [json.loads(line) for line in ledger_path.read_text().splitlines()]


def test_a_rollout_completes_with_real_agents(db, fleet):
    server, start_agent, _agents, ledger_path, transport = fleet
    drivers = [start_agent(h) for h in HOSTS]
    wait_for("both hosts' devices", lambda: devices_reported(db, 6))
    new = "97.00.11.00.01"
    data = image_bytes("vbios", new)
    image_uuid = add_image(db, "vbios", new, "2330", data)
    server.files[image_uuid] = data
    uuid = ff.rollout(
        db, image_uuid, {"hosts": HOSTS}, {"canary": 1, "waves": ["100%"], "max_in_flight": 2}
    )
    # The API's cast, as after a POST: the engine starts at once.
    rpcapi.ConductorAPI(transport).rollout_changed(rpc.admin_context(), uuid)
    wait_for("rollout completed", lambda: rollout_state(db, uuid) == states.COMPLETED)

    assert job_states(db, uuid) == [states.SUCCEEDED] * 4
    done = flashes(ledger_path)
    assert sorted(e["device"] for e in done) == sorted(
        d.identity("nvidia-h100", n) for d in drivers for n in (0, 1)
    )
    assert {e["result"] for e in done} == {"ok"}
    with db.transaction() as s:
        versions = set(
            s.scalars(
                sa.select(models.FirmwareComponent.version).where(
                    models.FirmwareComponent.component == "vbios"
                )
            )
        )
    assert versions == {new}


def test_reboot_activation_is_settled_by_the_report_after_a_restart(db, fleet):
    server, start_agent, agents, ledger_path, _transport = fleet
    start_agent("node-a")
    wait_for("node-a's devices", lambda: devices_reported(db, 3))
    new = "3.16.0"
    data = image_bytes("fpga_bmc", new)
    image_uuid = add_image(db, "fpga_bmc", new, "bcce", data)
    server.files[image_uuid] = data
    uuid = ff.rollout(
        db,
        image_uuid,
        {"hosts": ["node-a"]},
        {"canary": 0, "waves": ["100%"], "allow_reboot": False},
    )
    wait_for(
        "job pending activation",
        lambda: job_states(db, uuid) == [states.PENDING_ACTIVATION],
    )
    # The host reboots: the agent stops and starts again with a fresh driver, which finds the
    # new version active; its first report settles the job.
    agents.pop("node-a").stop()
    start_agent("node-a")
    wait_for("job settled", lambda: job_states(db, uuid) == [states.SUCCEEDED])
    wait_for("rollout completed", lambda: rollout_state(db, uuid) == states.COMPLETED)
    assert len(flashes(ledger_path)) == 1


@pytest.mark.parametrize("conductor_version", ["1.6", "1.5"])
def test_results_are_batched_and_a_conductor_before_1_6_still_gets_them(
    db, fleet, monkeypatch, conductor_version
):
    """Agents of this release send results in batches (1.6); against a conductor that only
    knows 1.5 they fall back to one result per call, and the rollout completes either way."""
    from cyborg_lite.conductor import manager as conductor_manager

    calls = {"job_updates": 0, "job_update": 0}
    for name in calls:
        real = getattr(conductor_manager.ConductorManager, name)

        def counted(self, *args, __real=real, __name=name, **kwargs):
            calls[__name] += 1
            return __real(self, *args, **kwargs)

        monkeypatch.setattr(conductor_manager.ConductorManager, name, counted)
    if conductor_version == "1.5":  # the dispatcher refuses what a 1.5 conductor did not know
        import oslo_messaging

        monkeypatch.setattr(
            conductor_manager.ConductorManager, "target", oslo_messaging.Target(version="1.5")
        )
    server, start_agent, _agents, _ledger, transport = fleet
    for host in HOSTS:
        start_agent(host)
    wait_for("both hosts' devices", lambda: devices_reported(db, 6))
    new = "97.00.12.00.01"
    data = image_bytes("vbios", new)
    image_uuid = add_image(db, "vbios", new, "2330", data)
    server.files[image_uuid] = data
    uuid = ff.rollout(
        db, image_uuid, {"hosts": HOSTS}, {"canary": 0, "waves": ["100%"], "max_in_flight": 4}
    )
    rpcapi.ConductorAPI(transport).rollout_changed(rpc.admin_context(), uuid)
    wait_for("rollout completed", lambda: rollout_state(db, uuid) == states.COMPLETED)
    assert job_states(db, uuid) == [states.SUCCEEDED] * 4
    if conductor_version == "1.6":
        assert calls["job_updates"] >= 1
        assert calls["job_update"] == 0
    else:
        assert calls["job_updates"] == 0  # refused before reaching the manager
        assert calls["job_update"] >= 4


@pytest.mark.parametrize("conductor_version", ["1.7", "1.6"])
def test_heartbeats_are_batched_and_a_conductor_before_1_7_still_gets_them(
    db, fleet, monkeypatch, conductor_version
):
    """Agents of this release send their heartbeats as one batch per process (1.7); against
    a conductor that only knows 1.6 each host calls heartbeat itself again."""
    from cyborg_lite.conductor import manager as conductor_manager

    calls = {"heartbeats": 0, "heartbeat": 0}
    for name in calls:
        real = getattr(conductor_manager.ConductorManager, name)

        def counted(self, *args, __real=real, __name=name, **kwargs):
            calls[__name] += 1
            return __real(self, *args, **kwargs)

        monkeypatch.setattr(conductor_manager.ConductorManager, name, counted)
    if conductor_version == "1.6":
        import oslo_messaging

        monkeypatch.setattr(
            conductor_manager.ConductorManager, "target", oslo_messaging.Target(version="1.6")
        )
    _server, start_agent, _agents, _ledger, _transport = fleet
    for host in HOSTS:
        start_agent(host)
    wait_for("both hosts' devices", lambda: devices_reported(db, 6))
    key = "heartbeats" if conductor_version == "1.7" else "heartbeat"
    wait_for(f"{key} received", lambda: calls[key] >= 4)
    with db.transaction() as s:
        states_ = set(s.scalars(sa.select(models.Host.state)))
    assert states_ == {"up"}
    if conductor_version == "1.7":
        assert calls["heartbeat"] == 0
    else:
        assert calls["heartbeats"] == 0  # refused before reaching the manager
