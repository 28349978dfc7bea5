"""The agent's firmware jobs end to end on one host: a loopback image server, the real
simulated driver (its ledger records every flash), a conductor that records job updates.

An "agent" here is a driver, an ``AgentManager`` and a ``JobRunner`` over one state folder;
a restart is a new one on the same folder (a new simulated driver is also a rebooted host).
"""

from __future__ import annotations

import json
import os
import time

import pytest

from cyborg_lite.agent import jobs, jobstate
from cyborg_lite.agent.manager import AgentManager
from cyborg_lite.drivers import base
from cyborg_lite.drivers.simulated import SimulatedDriver
from tests.conftest import make_test_conf
from tests.firmware_agent import (
    Clock,
    FakeConductor,
    ImageServer,
    image_bytes,
    ledger,
    make_runner,
    payload,
)
from tests.functional.servers import free_port

NEW_VBIOS = "97.00.11.00.01"
NEW_BMC = "3.16.0"


class Agent:
    """One agent process's worth of objects."""

    def __init__(self, conf, conductor, url, clock, driver=None):
        self.driver = driver or SimulatedDriver(conf)
        self.manager = AgentManager(conf, conductor, [self.driver], clock=clock)
        self.runner = make_runner(conf, self.manager, conductor, url, clock)

    def device(self, model):
        return self.driver.identity(model, 0)

    def component(self, stable_id, name):
        device = next(d for d in self.driver.discover() if d.stable_id == stable_id)
        return next(c for c in device.firmware if c.component == name)


@pytest.fixture
def conf(tmp_path):
    c = make_test_conf(str(tmp_path / "state"))
    c.set_override("devices", ["nvidia-h100:1", "intel-n6001:1"], group="simulated")
    c.set_override("flash_seconds", 0, group="simulated")
    return c


@pytest.fixture
def server():
    with ImageServer().running() as s:
        yield s


@pytest.fixture
def conductor():
    return FakeConductor()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def agent(conf, conductor, server, clock):
    return Agent(conf, conductor, server.url, clock)


def vbios_job(agent, server, version=NEW_VBIOS, served=None, **extra):
    data = image_bytes("vbios", version)
    image_uuid = server.add(data if served is None else served)
    return payload(agent.device("nvidia-h100"), image_uuid, data, "vbios", version, **extra)


def crashed_during_flash(conf, job):
    """Write the journal as an agent killed after ``flash_started`` leaves it."""
    record = jobstate.new_record(job, time.time())
    record.update(flash_started=True, state="flashing")
    os.makedirs(conf.state_path, exist_ok=True)
    with open(jobstate.journal_path(conf.state_path, "test-host"), "w") as f:
        json.dump({"jobs": [record]}, f)


def test_success_flashes_once_reports_and_is_acknowledged(agent, conductor, server):
    assert agent.manager.tick() == "report"
    job = vbios_job(agent, server)
    assert agent.runner.submit(job)
    assert agent.runner.status(job["job_uuid"])["state"] == "dispatched"

    assert agent.runner.run_queued() == 1

    # A quick flash: no "verifying" message, the result follows at once.
    assert conductor.states_of(job["job_uuid"]) == ["flashing", "succeeded"]
    (result,) = conductor.results()
    assert (result["version"], result["error_code"]) == (NEW_VBIOS, None)
    (flash,) = ledger(agent.driver)
    assert (flash["device"], flash["component"], flash["result"]) == (
        job["stable_id"],
        "vbios",
        "ok",
    )
    assert flash["image_sha256"] == job["sha256"]
    assert agent.runner.store.get(job["job_uuid"])["acked"] is True
    assert agent.runner.status(job["job_uuid"]) == {
        "state": "succeeded",
        "version": NEW_VBIOS,
        "error_code": None,
        "message": "vbios runs 97.00.11.00.01.",
    }
    # The next step of the agent's loop reports the new version.
    assert agent.manager.tick() == "report"
    device = next(d for d in conductor.reports[-1]["devices"] if d["stable_id"] == job["stable_id"])
    assert {f["component"]: f["version"] for f in device["firmware"]}["vbios"] == NEW_VBIOS
    # Downloaded as a service at microversion 2.4; the job's own file is gone, the checked
    # image is kept under its digest for the next job that needs it.
    (request,) = server.requests
    assert request["openstack-api-version"] == "accelerator 2.4"
    assert (request["x-roles"], request["x-service-roles"]) == ("service", "service")
    assert os.listdir(agent.runner._images.folder) == [f"{job['sha256']}.img"]


@pytest.mark.parametrize("tamper", ["changed", "longer"])
def test_checksum_mismatch_fails_before_the_device(agent, conductor, server, tamper):
    good = image_bytes("vbios", NEW_VBIOS)
    served = good[:-1] + b"\x01" if tamper == "changed" else good + b"extra"
    job = vbios_job(agent, server, served=served)
    agent.runner.submit(job)
    agent.runner.run_queued()

    assert conductor.states_of(job["job_uuid"]) == ["failed"]
    assert conductor.results()[0]["error_code"] == "checksum-mismatch"
    assert ledger(agent.driver) == []
    assert agent.runner.store.get(job["job_uuid"])["flash_started"] is False
    assert os.listdir(agent.runner._images.folder) == []


@pytest.mark.parametrize("status", [404, 500])
def test_api_errors_fail_the_download_naming_the_url(agent, conductor, server, status):
    job = vbios_job(agent, server)
    server.files[job["image_uuid"]] = status
    agent.runner.submit(job)
    agent.runner.run_queued()
    (result,) = conductor.results()
    assert result["error_code"] == "download-failed"
    assert f"{server.url}/v2/firmware_images/{job['image_uuid']}/file" in result["message"]
    assert str(status) in result["message"]
    assert ledger(agent.driver) == []


def test_unreachable_api_fails_the_download(conf, conductor, clock, server):
    closed = f"http://127.0.0.1:{free_port()}"
    agent = Agent(conf, conductor, closed, clock)
    job = vbios_job(agent, server)
    agent.runner.submit(job)
    agent.runner.run_queued()
    (result,) = conductor.results()
    assert result["error_code"] == "download-failed"
    assert closed in result["message"]


def test_duplicate_dispatch_flashes_once(agent, conductor, server):
    job = vbios_job(agent, server)
    assert agent.runner.submit(job)
    assert not agent.runner.submit(dict(job))
    agent.runner.run_queued()
    # Redelivered after the result: still known, still ignored.
    assert not agent.runner.submit(dict(job))
    assert agent.runner.run_queued() == 0
    assert len(ledger(agent.driver)) == 1
    assert len(conductor.results()) == 1


def test_restart_before_the_flash_runs_the_job_once(conf, agent, conductor, server, clock):
    job = vbios_job(agent, server)
    agent.runner.submit(job)  # ... and the agent dies before a worker picks it up

    restarted = Agent(conf, conductor, server.url, clock)
    assert restarted.runner.recover() == [job["job_uuid"]]
    restarted.runner.run_queued()
    assert not restarted.runner.submit(job)  # the conductor's redispatch
    restarted.runner.run_queued()

    assert [e["result"] for e in ledger(restarted.driver)] == ["ok"]
    assert [r["state"] for r in conductor.results()] == ["succeeded"]


def test_restart_after_a_completed_flash_reports_from_the_device(
    conf, agent, conductor, server, clock, tmp_path
):
    job = vbios_job(agent, server)
    # The flash went through, then the agent was killed before journaling the result.
    image = tmp_path / "image.bin"
    image.write_bytes(image_bytes("vbios", NEW_VBIOS))
    device = next(d for d in agent.driver.discover() if d.stable_id == job["stable_id"])
    assert agent.driver.flash(device, "vbios", str(image), 60, expected_version=NEW_VBIOS).ok
    crashed_during_flash(conf, job)

    restarted = Agent(conf, conductor, server.url, clock)
    restarted.runner.recover()
    restarted.runner.run_queued()

    assert len(ledger(restarted.driver)) == 1  # never flashed again
    (result,) = conductor.results()
    assert (result["state"], result["version"]) == ("succeeded", NEW_VBIOS)
    assert "restarted during the flash" in result["message"]
    assert server.requests == []  # not even downloaded again


def test_restart_mid_flash_without_the_new_version_is_interrupted(
    conf, agent, conductor, server, clock
):
    job = vbios_job(agent, server)
    crashed_during_flash(conf, job)

    restarted = Agent(conf, conductor, server.url, clock)
    restarted.runner.recover()
    restarted.runner.run_queued()

    assert ledger(restarted.driver) == []
    (result,) = conductor.results()
    assert (result["state"], result["error_code"]) == ("failed", "interrupted")
    assert "not flashed again" in result["message"]


def test_unreachable_conductor_result_is_retried_until_acknowledged(
    agent, conductor, server, clock
):
    conductor.fail = 2  # the "flashing" progress and the first delivery of the result
    job = vbios_job(agent, server)
    agent.runner.submit(job)
    agent.runner.run_queued()
    assert conductor.results() == []
    assert agent.runner.store.get(job["job_uuid"])["acked"] is False
    assert agent.runner.status(job["job_uuid"])["state"] == "succeeded"

    assert agent.runner.retry_unacked() == 0  # backing off
    clock.now += 11
    assert agent.runner.retry_unacked() == 1
    assert [r["state"] for r in conductor.results()] == ["succeeded"]
    assert agent.runner.store.get(job["job_uuid"])["acked"] is True
    assert agent.runner.retry_unacked() == 0
    assert len(ledger(agent.driver)) == 1


def test_undelivered_result_survives_a_restart(conf, agent, conductor, server, clock):
    conductor.down = True
    job = vbios_job(agent, server)
    agent.runner.submit(job)
    agent.runner.run_queued()
    clock.now += 11
    assert agent.runner.retry_unacked() == 0

    conductor.down = False
    restarted = Agent(conf, conductor, server.url, clock)
    assert restarted.runner.recover() == []  # nothing to run again ...
    assert restarted.runner.retry_unacked() == 1  # ... only a result to deliver
    assert [r["state"] for r in conductor.results()] == ["succeeded"]
    assert len(ledger(restarted.driver)) == 1


def test_driver_failure_is_the_jobs_failure(conf, conductor, server, clock):
    conf.set_override("flash_failure_rate", 1.0, group="simulated")
    agent = Agent(conf, conductor, server.url, clock)
    job = vbios_job(agent, server)
    agent.runner.submit(job)
    agent.runner.run_queued()
    (result,) = conductor.results()
    assert (result["state"], result["error_code"]) == ("failed", "hw-error")
    assert result["message"] == "injected failure"
    assert [e["result"] for e in ledger(agent.driver)] == ["hw-error"]


def test_reboot_activation_ends_pending_activation(conf, agent, conductor, server, clock):
    fpga = agent.device("intel-n6001")
    data = image_bytes("fpga_bmc", NEW_BMC)
    job = payload(fpga, server.add(data), data, "fpga_bmc", NEW_BMC, allow_reboot=False)
    agent.runner.submit(job)
    agent.runner.run_queued()

    (result,) = conductor.results()
    assert (result["state"], result["version"]) == ("pending_activation", NEW_BMC)
    assert "reboot" in result["message"]
    bmc = agent.component(fpga, "fpga_bmc")
    assert (bmc.version, bmc.pending_version) == ("3.15.2", NEW_BMC)
    # After the host reboots (a new driver), the version runs; the conductor settles the job
    # from that report.
    rebooted = Agent(conf, conductor, server.url, clock)
    assert rebooted.component(fpga, "fpga_bmc").version == NEW_BMC


def test_unknown_device_is_lost(agent, conductor, server):
    data = image_bytes("vbios", NEW_VBIOS)
    job = payload("no-such-device", server.add(data), data, "vbios", NEW_VBIOS)
    agent.runner.submit(job)
    agent.runner.run_queued()
    (result,) = conductor.results()
    assert (result["state"], result["error_code"]) == ("failed", "device-lost")
    assert ledger(agent.driver) == []


def test_component_already_at_target_is_not_flashed(agent, conductor, server):
    current = agent.component(agent.device("nvidia-h100"), "vbios").version
    job = vbios_job(agent, server, version=current)
    agent.runner.submit(job)
    agent.runner.run_queued()
    assert [(r["state"], r["version"]) for r in conductor.results()] == [("succeeded", current)]
    assert ledger(agent.driver) == []


class Forgetful(SimulatedDriver):
    """Says a flash worked and writes nothing, as a tool that lies would."""

    def flash(self, device, component, image_path, timeout, *, expected_version=None):
        return base.FlashResult(True, version=expected_version)


def test_version_not_read_back_is_a_verify_mismatch(conf, conductor, server, clock):
    agent = Agent(conf, conductor, server.url, clock, driver=Forgetful(conf))
    job = vbios_job(agent, server)
    agent.runner.submit(job)
    agent.runner.run_queued()
    (result,) = conductor.results()
    assert (result["state"], result["error_code"]) == ("failed", "verify-mismatch")
    assert NEW_VBIOS in result["message"]


def test_job_status_of_known_and_unknown_jobs(agent, server):
    job = vbios_job(agent, server)
    assert agent.runner.status(job["job_uuid"]) is None
    agent.runner.submit(job)
    assert agent.runner.status(job["job_uuid"]) == {
        "state": "dispatched",
        "version": None,
        "error_code": None,
        "message": None,
    }
    agent.runner.run_queued()
    assert agent.runner.status(job["job_uuid"])["state"] == "succeeded"
    assert agent.runner.status("00000000-0000-0000-0000-000000000000") is None


class Exploding(SimulatedDriver):
    """A driver whose flash raises, as a driver bug would."""

    def flash(self, device, component, image_path, timeout, *, expected_version=None):
        raise RuntimeError("tool crashed")


def test_a_raising_driver_fails_the_job_and_the_agent_goes_on(conf, conductor, server, clock):
    agent = Agent(conf, conductor, server.url, clock, driver=Exploding(conf))
    job = vbios_job(agent, server)
    agent.runner.submit(job)
    agent.runner.run_queued()
    (result,) = conductor.results()
    assert (result["state"], result["error_code"]) == ("failed", "unknown")
    assert "tool crashed" in result["message"]


def test_a_payload_without_what_a_job_needs_is_refused(agent, server):
    job = vbios_job(agent, server)
    del job["sha256"]
    assert not agent.runner.submit(job)
    assert agent.runner.status(job["job_uuid"]) is None
    assert not agent.runner.submit({"stable_id": "x"})


def test_a_long_flash_announces_verifying(agent, conductor, server, clock, monkeypatch):
    real_flash = agent.driver.flash

    def slow_flash(*args, **kwargs):
        clock.now += jobs.VERIFYING_PROGRESS_AFTER  # the flash takes that long
        return real_flash(*args, **kwargs)

    monkeypatch.setattr(agent.driver, "flash", slow_flash)
    job = vbios_job(agent, server)
    agent.runner.submit(job)
    agent.runner.run_queued()
    assert conductor.states_of(job["job_uuid"]) == ["flashing", "verifying", "succeeded"]


def test_a_burst_of_jobs_makes_one_report(agent, conductor, server, monkeypatch):
    asked = []
    monkeypatch.setattr(agent.manager, "request_refresh", lambda delay=0.0: asked.append(delay))
    fpga = agent.device("intel-n6001")
    data = image_bytes("fpga_bmc", NEW_BMC)
    agent.runner.submit(vbios_job(agent, server))
    agent.runner.submit(payload(fpga, server.add(data), data, "fpga_bmc", NEW_BMC))
    assert agent.runner.run_queued() == 2
    assert len(conductor.results()) == 2
    assert asked == [0.0]  # one refresh for both, when the queue ran dry ([agent] default 0 here)
    assert agent.runner.run_queued() == 0
    assert asked == [0.0]  # nothing owed any more
