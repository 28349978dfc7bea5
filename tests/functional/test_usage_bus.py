"""Usage over oslo.messaging's in-process transport: an agent's summaries reach SQL through the
conductor, and the conductor's answer (devices bound to an ARQ) reaches the driver."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from cyborg_lite import rpc
from cyborg_lite.agent import service as agent_service
from cyborg_lite.conductor import rpcapi as conductor_rpcapi
from cyborg_lite.conductor.service import ConductorService
from cyborg_lite.db import migration, models
from cyborg_lite.db.engine import Database
from cyborg_lite.drivers import base
from tests.conftest import make_test_conf
from tests.unit.test_agent import FakeDriver
from tests.waiting import wait_for


class Busy(FakeDriver):
    """Both GPUs at 70 % with a process; remembers the ``allocated`` it was given."""

    def __init__(self, conf, devices):
        super().__init__(conf, devices)
        self.allocated = []
        self.lock = threading.Lock()

    def sample(self, devices, *, allocated=frozenset()):
        with self.lock:
            self.allocated.append(allocated)
        return [
            base.Sample(d.stable_id, utilization_percent=70.0, processes=1, power_watts=250.0)
            for d in devices
        ]


def gpu(stable_id, slot):
    """A GPU with an attach handle, so that an ARQ can hold it."""
    address = f"0000:3b:0{slot}.0"
    return base.Device(
        stable_id=stable_id,
        type="GPU",
        vendor="10de",
        model="Tesla T4",
        driver="fake",
        pci_address=address,
        deployables=(
            base.Deployable(
                f"dep-{stable_id}", "PGPU", attach_handles=(base.AttachHandle("PCI", address),)
            ),
        ),
    )


def usage_rows(db):
    with db.transaction() as s:
        rows = s.execute(
            sa.select(models.Device.stable_id, models.DeviceUsage)
            .join(models.DeviceUsage, models.DeviceUsage.device_id == models.Device.id)
            .order_by(models.Device.stable_id)
        ).all()
        return [(sid, u.utilization_percent, u.last_busy, u.idle_since) for sid, u in rows]


def interval_rows(db):
    with db.transaction() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(models.UsageRollup))


def bind(db, stable_id):
    """A Bound ARQ holding the device's attach handle."""
    with db.transaction() as s:
        profile = models.DeviceProfile(name="gpu", groups='[{"resources:PGPU": "1"}]')
        s.add(profile)
        s.flush()
        handle = s.scalar(
            sa.select(models.AttachHandle.id)
            .join(models.Deployable)
            .join(models.Device)
            .where(models.Device.stable_id == stable_id)
        )
        s.add(
            models.AcceleratorRequest(
                state="Bound",
                device_profile_id=profile.id,
                device_profile_group_id=0,
                attach_handle_id=handle,
            )
        )


def test_an_agents_usage_reaches_sql_and_the_bound_devices_come_back(tmp_path):
    conf = make_test_conf(str(tmp_path / "conductor"))
    db = Database("sqlite:///" + str(tmp_path / "usage.sqlite"))
    migration.upgrade(db.engine)
    transport = rpc.get_transport(conf)
    conductor = ConductorService(conf, db, transport, None)
    conductor.start()
    aconf = make_test_conf(str(tmp_path / "agent"))
    aconf.set_override("host", "node1")
    aconf.set_override("usage_interval", 0.1, group="agent")
    aconf.set_override("usage_report_interval", 1, group="agent")
    aconf.set_override("heartbeat_interval", 0.5, group="agent")
    driver = Busy(aconf, [gpu("a", 0), gpu("b", 1)])
    agent = agent_service.AgentService(
        aconf, transport, conductor_rpcapi.ConductorAPI(transport, timeout=10), [driver]
    )
    agent.start()
    try:
        rows = wait_for(
            "both devices' usage in SQL", lambda: len(usage_rows(db)) == 2 and usage_rows(db)
        )
        for _sid, utilization, last_busy, idle_since in rows:
            assert utilization == 70.0
            assert last_busy is not None
            assert idle_since is None
        assert interval_rows(db) >= 2

        bind(db, "b")
        wait_for(
            "the driver told b is bound",
            lambda: any(a == frozenset({"b"}) for a in list(driver.allocated)),
        )
    finally:
        agent.stop()
        conductor.stop()
        db.dispose()
