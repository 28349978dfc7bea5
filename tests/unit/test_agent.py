"""The agent: digest, reports versus heartbeats, refresh, failures, driver isolation, report
order."""

from __future__ import annotations

import threading

import pytest

from cyborg_lite.agent import discovery, reportseq
from cyborg_lite.agent.manager import AgentManager, build_report, digest
from cyborg_lite.drivers import base
from tests.conftest import make_test_conf


def gpu(stable_id="g1", vbios="1.0", driver="fake"):
    return base.Device(
        stable_id=stable_id,
        type="GPU",
        vendor="10de",
        model="Tesla T4",
        driver=driver,
        pci_address="0000:3b:00.0",
        deployables=(base.Deployable(f"dep-{stable_id}", "PGPU", ("OWNER_CYBORG",)),),
        firmware=(base.FirmwareComponent("vbios", vbios, True),),
    )


class FakeDriver(base.Driver):
    """Returns whatever ``devices`` holds; the test edits it."""

    name = "fake"

    def __init__(self, conf, devices=()):
        super().__init__(conf)
        self.devices = list(devices)

    def discover(self):
        return list(self.devices)


class Raising(base.Driver):
    name = "raising"

    def discover(self):
        raise RuntimeError("card on fire")


class Hanging(base.Driver):
    name = "hanging"

    def __init__(self, conf, release):
        super().__init__(conf)
        self.release = release

    def discover(self):
        self.release.wait(30)
        return [gpu("never", driver="hanging")]


class FakeConductor:
    """Records calls; answers as told; raises when ``down``."""

    def __init__(self):
        self.reports = []
        self.heartbeats = []
        self.report_wanted = False
        self.down = False
        self.held_seq = None  # a newer seq than any report sent: answer stale

    def report_inventory(self, context, report):
        if self.down:
            raise TimeoutError("no conductor")
        self.reports.append(report)
        if self.held_seq is not None and report["seq"] <= self.held_seq:
            return {"applied": False, "events": 0, "stale": True, "seq": self.held_seq}
        return {"applied": True, "events": 0, "stale": False}

    def heartbeat(self, context, host, agent_version, digest):
        if self.down:
            raise TimeoutError("no conductor")
        self.heartbeats.append(digest)
        return {"report_wanted": self.report_wanted}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def conf(tmp_path):
    c = make_test_conf(str(tmp_path))
    c.set_override("report_interval", 60, group="agent")
    c.set_override("heartbeat_interval", 10, group="agent")
    c.set_override("discovery_timeout", 1, group="agent")
    return c


@pytest.fixture
def setup(conf):
    driver = FakeDriver(conf, [gpu()])
    conductor = FakeConductor()
    clock = Clock()
    agent = AgentManager(conf, conductor, [driver], clock=clock)
    return agent, driver, conductor, clock


def test_digest_ignores_order_and_error_text():
    a, b = base.to_dict(gpu("a")), base.to_dict(gpu("b"))
    assert digest([a, b], ["x"]) == digest([b, a], ["x", "x"])
    report1 = build_report("h", [gpu()], [discovery.DriverError("x", "timed out after 1s")])
    report2 = build_report("h", [gpu()], [discovery.DriverError("x", "timed out after 2s")])
    assert report1["digest"] == report2["digest"]


def test_digest_changes_with_firmware_and_with_failures():
    base_digest = build_report("h", [gpu()], [])["digest"]
    assert build_report("h", [gpu(vbios="2.0")], [])["digest"] != base_digest
    assert build_report("h", [gpu()], [discovery.DriverError("x", "e")])["digest"] != base_digest


def test_report_is_plain_json(setup):
    agent, *_ = setup
    report = agent.discover()
    assert set(report) == {"host", "agent_version", "digest", "devices", "driver_errors", "seq"}
    assert report["host"] == "test-host"
    (device,) = report["devices"]
    assert device["firmware"] == [
        {
            "component": "vbios",
            "version": "1.0",
            "updatable": True,
            "activation": "reset",
            "pending_version": None,
        }
    ]
    assert isinstance(device["deployables"][0]["traits"], list)


def test_full_report_at_start_then_heartbeats(setup):
    agent, _driver, conductor, clock = setup
    assert agent.tick() == "report"
    assert len(conductor.reports) == 1
    assert agent.tick() == "idle"
    clock.now += 10
    assert agent.tick() == "heartbeat"
    assert conductor.heartbeats == [conductor.reports[0]["digest"]]


def test_unchanged_discovery_sends_a_heartbeat_not_a_report(setup):
    agent, _driver, conductor, clock = setup
    agent.tick()
    clock.now += 60
    assert agent.tick() == "heartbeat"
    assert len(conductor.reports) == 1


def test_changed_inventory_is_reported_at_the_next_discovery(setup):
    agent, driver, conductor, clock = setup
    agent.tick()
    driver.devices = [gpu(vbios="2.0")]
    clock.now += 10
    assert agent.tick() == "heartbeat"  # not yet time to discover
    clock.now += 50
    assert agent.tick() == "report"
    assert conductor.reports[-1]["devices"][0]["firmware"][0]["version"] == "2.0"


def test_refresh_reports_in_full_at_once(setup):
    agent, _driver, conductor, _clock = setup
    agent.tick()
    agent.request_refresh()
    assert agent.tick() == "report"
    assert len(conductor.reports) == 2
    assert conductor.reports[0]["digest"] == conductor.reports[1]["digest"]


def test_conductor_asking_for_a_report_gets_one(setup):
    agent, _driver, conductor, clock = setup
    agent.tick()
    conductor.report_wanted = True
    clock.now += 10
    assert agent.tick() == "heartbeat"
    conductor.report_wanted = False
    assert agent.tick() == "report"


def test_unreachable_conductor_backs_off_then_reports_in_full(setup):
    agent, _driver, conductor, clock = setup
    conductor.down = True
    assert agent.tick() == "failed"
    assert agent.tick() == "idle"  # backing off: no hammering
    conductor.down = False
    clock.now += 10
    assert agent.tick() == "report"
    assert len(conductor.reports) == 1


def test_lost_heartbeat_keeps_the_acknowledged_digest(setup):
    agent, _driver, conductor, clock = setup
    agent.tick()
    conductor.down = True
    clock.now += 10
    assert agent.tick() == "failed"
    conductor.down = False
    clock.now += 10
    assert agent.tick() == "heartbeat"
    assert len(conductor.reports) == 1


def test_failing_and_hanging_drivers_do_not_hide_the_others(conf):
    release = threading.Event()
    good = FakeDriver(conf, [gpu()])
    conductor = FakeConductor()
    load_error = discovery.DriverError("nvidia", "failed to load: no module")
    agent = AgentManager(
        conf, conductor, [Raising(conf), good, Hanging(conf, release)], [load_error]
    )
    try:
        assert agent.tick() == "report"
    finally:
        release.set()
    (report,) = conductor.reports
    assert [d["stable_id"] for d in report["devices"]] == ["g1"]
    errors = {e["driver"]: e["error"] for e in report["driver_errors"]}
    assert set(errors) == {"nvidia", "raising", "hanging"}
    assert "card on fire" in errors["raising"]
    assert "timed out" in errors["hanging"]


def test_reports_carry_a_seq_that_grows_across_restarts(conf, setup):
    agent, _driver, conductor, clock = setup
    agent.tick()
    agent.request_refresh()
    agent.tick()
    restarted = AgentManager(conf, conductor, [FakeDriver(conf, [gpu()])], clock=clock)
    restarted.tick()
    seqs = [r["seq"] for r in conductor.reports]
    assert len(seqs) == 3
    assert seqs == sorted(set(seqs))
    assert [reportseq.generation_of(s) for s in seqs] == [1, 1, 2]


def test_a_stale_answer_moves_the_agent_past_the_conductors_seq(setup):
    # The agent's state folder was wiped: the conductor holds a seq from an earlier run.
    agent, _driver, conductor, clock = setup
    conductor.held_seq = (41 << 32) + 7
    assert agent.tick() == "stale"
    assert agent.tick() == "idle"  # no loop of refused reports
    clock.now += 10
    assert agent.tick() == "report"
    refused, accepted = conductor.reports
    assert refused["digest"] == accepted["digest"]
    assert accepted["seq"] == (42 << 32) + 1
    assert agent.acked_digest == accepted["digest"]
    # Saved: the next run starts above the conductor's too.
    assert agent.sequence.generation == 42
    assert reportseq.ReportSequence(agent.sequence.path).next() > accepted["seq"]


def test_unwritable_state_still_reports_without_seq(tmp_path, conf):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    conf.set_override("state_path", str(blocker))
    conductor = FakeConductor()
    agent = AgentManager(conf, conductor, [FakeDriver(conf, [gpu()])], clock=Clock())
    assert agent.tick() == "report"
    (report,) = conductor.reports
    assert "seq" not in report
