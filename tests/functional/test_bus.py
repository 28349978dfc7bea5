"""Conductor and agents over oslo.messaging's in-process transport: reports, refresh casts,
liveness and notifications (the all-in-one's wiring; the RabbitMQ run is in test_e2e)."""

from __future__ import annotations

import threading

import oslo_messaging
import pytest
import sqlalchemy as sa

from cyborg_lite import rpc
from cyborg_lite.agent import manager as agent_manager
from cyborg_lite.agent import rpcapi as agent_rpcapi
from cyborg_lite.agent import service as agent_service
from cyborg_lite.conductor import rpcapi as conductor_rpcapi
from cyborg_lite.conductor.service import ConductorService
from cyborg_lite.db import migration, models
from cyborg_lite.db.engine import Database
from cyborg_lite.drivers.simulated import SimulatedDriver
from tests.conftest import make_test_conf
from tests.unit.test_agent import FakeConductor, FakeDriver, gpu
from tests.waiting import wait_for


class Notifications:
    """A notification endpoint keeping what it hears."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.lock:
            self.events.append((event_type, payload))

    def of(self, event_type):
        with self.lock:
            return [p for t, p in self.events if t == event_type]


def agent_conf(tmp_path, host):
    conf = make_test_conf(str(tmp_path / host))
    conf.set_override("host", host)
    conf.set_override("heartbeat_interval", 0.2, group="agent")
    conf.set_override("report_interval", 60, group="agent")  # only refresh re-discovers
    return conf


@pytest.fixture
def bus(tmp_path):
    conf = make_test_conf(str(tmp_path / "conductor"))
    conf.set_override("host_down_after", 1.5, group="conductor")
    conf.set_override("liveness_interval", 0.2, group="conductor")
    db = Database("sqlite:///" + str(tmp_path / "bus.sqlite"))
    migration.upgrade(db.engine)
    transport = rpc.get_transport(conf)
    # The fake transport is per object: the notifier and the listener share this one.
    ntransport = oslo_messaging.get_notification_transport(conf)
    heard = Notifications()
    listener = oslo_messaging.get_notification_listener(
        ntransport, [oslo_messaging.Target(topic="notifications")], [heard]
    )
    listener.start()
    notifier = rpc.get_notifier(conf, ntransport, "cyborg-lite-conductor.test")
    conductor = ConductorService(conf, db, transport, notifier)
    conductor.start()
    started = []
    yield conf, db, transport, heard, started
    for service in started:
        service.stop()
    conductor.stop()
    listener.stop()
    listener.wait()
    db.dispose()


def devices_of(db, host):
    with db.transaction() as s:
        return list(
            s.scalars(sa.select(models.Device.stable_id).where(models.Device.hostname == host))
        )


def host_state(db, host):
    with db.transaction() as s:
        return s.scalar(sa.select(models.Host.state).where(models.Host.hostname == host))


def test_agents_report_refresh_and_liveness(bus, tmp_path):
    _conf, db, transport, heard, started = bus
    conf_a, conf_b = agent_conf(tmp_path, "host-a"), agent_conf(tmp_path, "host-b")
    fake = FakeDriver(conf_a, [gpu("a-1")])
    conductor_api = conductor_rpcapi.ConductorAPI(transport, timeout=10)
    agent_a = agent_service.AgentService(conf_a, transport, conductor_api, [fake])
    agent_b = agent_service.AgentService(
        conf_b, transport, conductor_api, [SimulatedDriver(conf_b)]
    )
    for agent in (agent_a, agent_b):
        agent.start()
        started.append(agent)

    wait_for("host-a's device", lambda: devices_of(db, "host-a") == ["a-1"])
    wait_for("host-b's five devices", lambda: len(devices_of(db, "host-b")) == 5)
    wait_for("host.up for both", lambda: len(heard.of("accelerator.host.up")) == 2)
    added = wait_for("device.added x6", lambda: len(heard.of("accelerator.device.added")) == 6)
    assert added

    # A new card on host-a shows up when the agent is asked to refresh (its timer is 60 s).
    fake.devices = [gpu("a-1"), gpu("a-2")]
    agent_rpcapi.AgentAPI(transport).refresh(rpc.admin_context(), "host-a")
    wait_for("a-2 after refresh", lambda: sorted(devices_of(db, "host-a")) == ["a-1", "a-2"])
    new = wait_for(
        "device.added for a-2",
        lambda: [p for p in heard.of("accelerator.device.added") if p["stable_id"] == "a-2"],
    )
    assert new[0]["hostname"] == "host-a"

    # A fanned-out refresh reaches every agent.
    reports_before = agent_a.manager.last_report
    fake.devices = [gpu("a-2")]
    agent_rpcapi.AgentAPI(transport).refresh(rpc.admin_context())
    wait_for("a-1 gone after fanout refresh", lambda: devices_of(db, "host-a") == ["a-2"])
    assert agent_a.manager.last_report is not reports_before
    wait_for("device.removed for a-1", lambda: heard.of("accelerator.device.removed"))

    # host-b's agent stops: its host goes down, its devices stay.
    agent_b.stop()
    started.remove(agent_b)
    wait_for("host-b down", lambda: host_state(db, "host-b") == "down", timeout=20)
    assert len(devices_of(db, "host-b")) == 5
    # Notified after the commit: wait for it rather than racing it.
    down = wait_for("host.down notification", lambda: heard.of("accelerator.host.down"))
    assert [p["hostname"] for p in down] == ["host-b"]
    assert host_state(db, "host-a") == "up"


def test_unreachable_conductor_is_survived(tmp_path):
    """With no conductor at all the agent keeps trying, and reports once one answers."""
    conf = agent_conf(tmp_path, "lonely")
    conductor = FakeConductor()
    conductor.down = True
    agent = agent_manager.AgentManager(conf, conductor, [FakeDriver(conf, [gpu()])])
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        wait_for("a failed attempt", lambda: agent.last_report is not None)
        conductor.down = False
        wait_for("the report", lambda: conductor.reports, timeout=10)
    finally:
        agent.stop()
        thread.join(5)
    assert conductor.reports[0]["host"] == "lonely"
