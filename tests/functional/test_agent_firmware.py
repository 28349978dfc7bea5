"""The agent's firmware jobs against real servers: images registered and uploaded through the
real API (gunicorn) and downloaded by the agent, and jobs dispatched over the bus to a running
``AgentService`` (oslo.messaging's in-process transport)."""

from __future__ import annotations

import hashlib
import json

import pytest
from keystoneauth1 import session as ks_session

from cyborg_lite import rpc
from cyborg_lite.agent import images
from cyborg_lite.agent import rpcapi as agent_rpcapi
from cyborg_lite.agent import service as agent_service
from cyborg_lite.agent.manager import AgentManager
from cyborg_lite.drivers.simulated import SimulatedDriver
from tests import personas
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
from tests.functional import servers
from tests.waiting import wait_for

VERSION = "97.00.11.00.01"
ADMIN = personas.headers("admin", version="2.4")


def upload(base_url: str, data: bytes) -> str:
    """Register a vbios image and upload its bytes through the API; returns its uuid."""
    status, _, body = servers.call(
        "POST",
        f"{base_url}/v2/firmware_images",
        {
            "name": "H100 VBIOS",
            "vendor": "10de",
            "component": "vbios",
            "version": VERSION,
            "device_ids": ["2330"],
            "sha256": hashlib.sha256(data).hexdigest(),
        },
        ADMIN,
    )
    assert status == 201, body
    image_uuid = str(json.loads(body)["uuid"])
    put = ks_session.Session().put(
        f"{base_url}/v2/firmware_images/{image_uuid}/file",
        data=data,
        headers={**ADMIN, "Content-Type": "application/octet-stream"},
        raise_exc=False,
    )
    assert put.status_code == 200, put.text
    return image_uuid


@pytest.mark.slow  # starts cyborg-lite-api (gunicorn): the agent downloads from it
def test_agent_downloads_from_the_api_and_refuses_bad_images(tmp_path):
    conf = make_test_conf(str(tmp_path / "agent"))
    conf.set_override("devices", ["nvidia-h100:2"], group="simulated")
    conf.set_override("flash_seconds", 0, group="simulated")
    conductor, clock = FakeConductor(), Clock()
    driver = SimulatedDriver(conf)
    manager = AgentManager(conf, conductor, [driver], clock=clock)
    first, second = (driver.identity("nvidia-h100", n) for n in (0, 1))
    data = image_bytes("vbios", VERSION)
    with servers.running_api({"api.workers": 1}, tmp_path) as base_url:
        image_uuid = upload(base_url, data)
        runner = make_runner(conf, manager, conductor, base_url, clock)

        job = payload(first, image_uuid, data, "vbios", VERSION)
        runner.submit(job)
        runner.run_queued()
        assert [(r["state"], r["version"]) for r in conductor.results()] == [("succeeded", VERSION)]

        # The agent kept the checked image: a second job with it downloads nothing.
        downloads = tmp_path / "agent" / "agent-downloads" / manager.host
        kept = downloads / f"{job['sha256']}.img"
        assert kept.read_bytes() == data
        assert sorted(p.name for p in downloads.iterdir()) == [kept.name]

        # Someone changes the stored bytes behind the catalog's back (same length), and the
        # agent's kept copy rots: the kept copy is hashed before use, thrown away, and the
        # fresh download is refused too.
        stored = tmp_path / "state" / "images" / "sha256" / job["sha256"][:2] / job["sha256"]
        stored.chmod(0o644)
        stored.write_bytes(data[:-1] + b"\xff")
        kept.write_bytes(data[:-1] + b"\xfe")
        tampered = payload(second, image_uuid, data, "vbios", VERSION)
        runner.submit(tampered)
        runner.run_queued()

        # An image the API does not have: the error names the URL and the API's answer.
        missing = "3b7c0a51-0000-4000-8000-000000000000"
        source = images.ImageSource(base_url, str(tmp_path / "dl"), ks_session.Session())
        with pytest.raises(images.ImageError) as refused:
            source.fetch(missing, "0" * 64)
        assert refused.value.code == "download-failed"
        assert f"{base_url}/v2/firmware_images/{missing}/file answered 404" in str(refused.value)

    (result,) = conductor.results(tampered["job_uuid"])
    assert (result["state"], result["error_code"]) == ("failed", "checksum-mismatch")
    assert "hashes to" in result["message"]  # the download's check, after the kept copy's
    assert not kept.exists()
    assert [(e["device"], e["result"]) for e in ledger(driver)] == [(first, "ok")]


def test_jobs_over_the_bus_and_results_after_a_conductor_outage(tmp_path):
    conf = make_test_conf(str(tmp_path / "agent"))
    conf.set_override("devices", ["nvidia-h100:2"], group="simulated")
    conf.set_override("flash_seconds", 0, group="simulated")
    conf.set_override("heartbeat_interval", 0.1, group="agent")
    transport = rpc.get_transport(conf)
    conductor = FakeConductor()
    conductor.down = True  # the first result has nobody to go to
    driver = SimulatedDriver(conf)
    with ImageServer().running() as server:
        source = images.ImageSource(server.url, str(tmp_path / "dl"), ks_session.Session())
        agent = agent_service.AgentService(
            conf, transport, conductor, [driver], image_source=source
        )
        agent.start()
        try:
            client = agent_rpcapi.AgentAPI(transport, timeout=10)
            ctx = rpc.admin_context()
            data = image_bytes("vbios", VERSION)
            jobs = [
                payload(driver.identity("nvidia-h100", n), server.add(data), data, "vbios", VERSION)
                for n in (0, 1)
            ]
            client.flash_firmware(ctx, "test-host", jobs[0])
            done = wait_for(
                "job 1 finished on the agent",
                lambda: (
                    (client.job_status(ctx, "test-host", jobs[0]["job_uuid"]) or {}).get("state")
                    == "succeeded"
                ),
            )
            assert done
            assert conductor.results() == []

            conductor.down = False  # the agent's loop delivers the stored result
            wait_for("job 1's result delivered", lambda: conductor.results(jobs[0]["job_uuid"]))
            client.flash_firmware(ctx, "test-host", jobs[0])  # a redelivery: ignored
            client.flash_firmware(ctx, "test-host", jobs[1])
            wait_for("job 2's result", lambda: conductor.results(jobs[1]["job_uuid"]))
            assert client.job_status(ctx, "test-host", "no-such-job") is None
        finally:
            agent.stop()
    assert sorted(e["device"] for e in ledger(driver)) == sorted(j["stable_id"] for j in jobs)
    assert [r["state"] for r in conductor.results()] == ["succeeded", "succeeded"]
