"""The agent's usage sampler with a fake clock and a fake conductor: one message per host per
interval, the bounded backlog resent in one message, a failing driver isolated, MIG slices
merged into their GPU, the answer's ``allocated`` handed to the drivers; and how the agent
wires it (loop wake-ups, an old conductor, usage off)."""

from __future__ import annotations

import datetime as dt

import oslo_messaging
import pytest

from cyborg_lite import exception
from cyborg_lite.agent import service as agent_service
from cyborg_lite.agent import usage
from cyborg_lite.drivers import base
from cyborg_lite.usage.summary import DeviceSummary
from tests.conftest import make_test_conf
from tests.unit.test_agent import FakeDriver, gpu

EPOCH = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


class Clock:
    """Monotonic seconds and the wall clock they map to, moved together."""

    def __init__(self, at=5.0):
        self.now = at

    def __call__(self):
        return self.now

    def wall(self):
        return EPOCH + dt.timedelta(seconds=self.now)


class Conductor:
    """Keeps every usage_report; fails while ``down``; answers ``allocated``."""

    def __init__(self):
        self.calls = []
        self.down = False
        self.refuse = None
        self.allocated = []

    def usage_supported(self):
        return True

    def usage_report(self, context, host, reports):
        if self.down:
            raise oslo_messaging.MessagingTimeout("no conductor")
        if self.refuse:
            raise self.refuse
        self.calls.append((host, [dict(r) for r in reports]))
        return {"accepted": 1, "unknown": 0, "allocated": self.allocated}


class Sampling(FakeDriver):
    """A driver whose readings the test sets; records what it was asked."""

    def __init__(self, conf, devices, readings=None, name="fake"):
        super().__init__(conf, devices)
        self.name = name
        self.readings = readings or {}
        self.asked = []
        self.raises = None

    def sample(self, devices, *, allocated=frozenset()):
        self.asked.append(([d.stable_id for d in devices], allocated))
        if self.raises:
            raise self.raises
        return [
            s for d in devices for s in self.readings.get(d.stable_id, [base.Sample(d.stable_id)])
        ]


def util(stable_id, percent, processes=0, deployable=None):
    return base.Sample(
        stable_id,
        deployable=deployable,
        utilization_percent=percent,
        processes=processes,
        power_watts=100.0,
    )


@pytest.fixture
def conf(tmp_path):
    return make_test_conf(str(tmp_path))


def sampler(driver_list, conductor, clock, *, interval=10.0, report=60, backlog=3):
    devices = {d.name: d.devices for d in driver_list}
    return usage.Sampler(
        "node1",
        conductor,
        driver_list,
        lambda: devices,
        interval=interval,
        report_interval=report,
        backlog=backlog,
        clock=clock,
        wallclock=clock.wall,
    )


def run_for(s, clock, seconds, step=1.0):
    """Step the sampler every ``step`` seconds for ``seconds``; the outcomes that were not idle."""
    done = []
    end = clock.now + seconds
    while clock.now < end:
        outcome = s.step()
        if outcome != "idle":
            done.append(outcome)
        clock.now += step
    return done


def test_one_message_per_interval_with_every_device(conf):
    driver = Sampling(
        conf,
        [gpu("a"), gpu("b")],
        {"a": [util("a", 90.0, processes=2)], "b": [util("b", 1.0)]},
    )
    conductor, clock = Conductor(), Clock()
    s = sampler([driver], conductor, clock)
    outcomes = run_for(s, clock, 180)
    # Samples every 10 s: 18; an interval closes at each minute passed: 10:01, 10:02.
    assert len(driver.asked) == 18
    assert outcomes.count("reported") == 2
    assert len(conductor.calls) == 2
    host, (first,) = conductor.calls[0]
    assert host == "node1"
    assert first["interval_start"] == "2026-03-01T10:00:00+00:00"
    assert first["interval_end"] == "2026-03-01T10:01:00+00:00"
    by_id = {d["stable_id"]: DeviceSummary.from_dict(d) for d in first["devices"]}
    assert set(by_id) == {"a", "b"}
    # 10:00:05 ... 10:00:55
    assert by_id["a"].samples == 6
    assert by_id["a"].busy is True
    assert by_id["a"].last_busy == EPOCH + dt.timedelta(seconds=55)
    assert by_id["b"].busy is False
    assert by_id["b"].utilization_percent_mean == 1.0
    (second,) = conductor.calls[1][1]
    assert second["interval_start"] == "2026-03-01T10:01:00+00:00"


def test_an_unreachable_conductor_leaves_a_bounded_backlog_sent_in_one_message(conf):
    driver = Sampling(conf, [gpu("a")], {"a": [util("a", 50.0)]})
    conductor, clock = Conductor(), Clock()
    s = sampler([driver], conductor, clock, backlog=3)
    conductor.down = True
    outcomes = run_for(s, clock, 5 * 60)
    # Five intervals closed, 10:00 ... 10:04; each try failed; three kept, oldest dropped.
    assert outcomes.count("failed") == 4
    assert [r["interval_start"][11:16] for r in s.pending] == ["10:01", "10:02", "10:03"]
    conductor.down = False
    run_for(s, clock, 60)
    # One message with the backlog and the new interval, oldest first.
    assert len(conductor.calls) == 1
    starts = [r["interval_start"][11:16] for r in conductor.calls[0][1]]
    assert starts == ["10:01", "10:02", "10:03", "10:04"]
    assert s.pending == []


def test_no_backlog_means_a_failed_interval_is_dropped(conf):
    driver = Sampling(conf, [gpu("a")], {"a": [util("a", 50.0)]})
    conductor, clock = Conductor(), Clock()
    s = sampler([driver], conductor, clock, backlog=0)
    conductor.down = True
    run_for(s, clock, 65)
    assert s.pending == []


@pytest.mark.parametrize(
    "refusal",
    [oslo_messaging.RemoteError("Invalid", "malformed"), exception.Invalid("malformed")],
)
def test_a_refused_message_is_not_sent_again(conf, refusal):
    driver = Sampling(conf, [gpu("a")], {"a": [util("a", 50.0)]})
    conductor, clock = Conductor(), Clock()
    s = sampler([driver], conductor, clock)
    conductor.refuse = refusal
    assert run_for(s, clock, 65).count("failed") == 1
    assert s.pending == []


def test_a_failing_driver_skips_its_devices_only(conf):
    good = Sampling(conf, [gpu("a")], {"a": [util("a", 50.0)]}, name="good")
    bad = Sampling(conf, [gpu("z", driver="bad")], name="bad")
    bad.raises = RuntimeError("NVML gone")
    conductor, clock = Conductor(), Clock()
    s = sampler([good, bad], conductor, clock)
    run_for(s, clock, 65)
    (report,) = conductor.calls[0][1]
    assert [d["stable_id"] for d in report["devices"]] == ["a"]
    taken = usage.take([good, bad], {"good": good.devices, "bad": bad.devices})
    assert [e.driver for e in taken.errors] == ["bad"]
    assert "NVML gone" in taken.errors[0].error


def test_mig_slices_count_towards_their_gpu(conf):
    driver = Sampling(
        conf,
        [gpu("g")],
        {
            "g": [
                base.Sample("g", utilization_percent=None, memory_total_bytes=80, power_watts=300),
                base.Sample("g", deployable="mig-1", memory_used_bytes=10, processes=1),
                base.Sample("g", deployable="mig-2", memory_used_bytes=5, processes=0),
                # A device it was not asked about is dropped.
                base.Sample("stranger", utilization_percent=99.0),
            ]
        },
    )
    taken = usage.take([driver], {"fake": driver.devices})
    assert set(taken.readings()) == {"g"}
    reading = taken.readings()["g"]
    assert reading.memory_used_bytes == 15
    assert reading.processes == 1
    assert reading.power_watts == 300


def test_allocated_from_the_answer_reaches_the_next_samples(conf):
    driver = Sampling(conf, [gpu("a"), gpu("b")])
    conductor, clock = Conductor(), Clock()
    conductor.allocated = ["b"]
    s = sampler([driver], conductor, clock)
    run_for(s, clock, 80)
    assert driver.asked[0][1] == frozenset()
    assert driver.asked[-1][1] == frozenset({"b"})


def test_nothing_is_sent_for_a_host_without_devices(conf):
    driver = Sampling(conf, [])
    conductor, clock = Conductor(), Clock()
    s = sampler([driver], conductor, clock)
    run_for(s, clock, 130)
    assert conductor.calls == []
    assert driver.asked == []


class OldConductor(Conductor):
    def usage_supported(self):
        return False


class Jobs:
    """What AgentService's job runner needs of the conductor, for wiring tests."""

    def report_inventory(self, context, report):
        return {"applied": True, "events": 0, "stale": False}

    def heartbeat(self, context, host, agent_version, digest):
        return {"report_wanted": False}


class Full(Conductor, Jobs):
    pass


class OldFull(OldConductor, Jobs):
    pass


def service(conf, conductor, driver):
    transport = oslo_messaging.get_rpc_transport(conf, url="fake:/")
    return agent_service.AgentService(conf, transport, conductor, [driver])


def test_the_agent_samples_what_it_discovered_and_wakes_for_it(conf):
    conf.set_override("usage_interval", 3.0, group="agent")
    conf.set_override("heartbeat_interval", 30.0, group="agent")
    driver = Sampling(conf, [gpu("a")])
    agent = service(conf, Full(), driver)
    assert agent.usage is not None
    agent.manager.step()
    # The loop's step discovered: that is what the sampler asks the drivers about.
    assert agent.manager.devices_by_driver == {"fake": [gpu("a")]}
    # The first sample is due within usage_interval (the host's phase), and the loop wakes
    # for it rather than at the next heartbeat, 30 s away.
    assert agent.manager.seconds_to_next() <= 3.0


def test_no_usage_for_an_old_conductor_a_fake_without_it_or_when_off(conf):
    driver = Sampling(conf, [gpu("a")])
    assert service(conf, OldFull(), driver).usage is None
    assert service(conf, Jobs(), driver).usage is None
    conf.set_override("usage_interval", 0, group="agent")
    assert service(conf, Full(), driver).usage is None


def test_hosts_sample_at_their_own_phase():
    phases = {usage.phase_of(f"sim-host-{n:02d}", 10.0) for n in range(20)}
    assert all(0 <= p < 10 for p in phases)
    assert len(phases) > 10
    assert usage.phase_of("node1", 10.0) == usage.phase_of("node1", 10.0)


def test_the_rpc_client_is_pinned_by_its_version_cap(conf):
    from cyborg_lite.conductor import rpcapi

    transport = oslo_messaging.get_rpc_transport(conf, url="fake:/")
    assert rpcapi.ConductorAPI(transport).usage_supported()
    assert not rpcapi.ConductorAPI(transport, version_cap="1.3").usage_supported()
