"""Bind tells Nova: one ``accelerator-request-bound`` event per ARQ at compute 2.82, sent to a
recording endpoint; devices in maintenance or drained for firmware are never bound."""

from __future__ import annotations

import uuid

import falcon.testing
import pytest
import sqlalchemy as sa

from cyborg_lite.api.app import create_app
from cyborg_lite.db import models
from tests import nova_server, personas, placement_server, seed
from tests.functional import servers
from tests.functional.test_arqs import UNBIND_OPS, bind_ops, create, handles_in_use, patch, show
from tests.local_conductor import LocalConductor

pytestmark = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)


@pytest.fixture
def nova():
    with nova_server.running_nova() as recorder:
        yield recorder


@pytest.fixture
def client(conf, db, nova):
    placement_server.point_at(conf, nova.url, group="nova")
    # The API casts the finished bind to the conductor, which tells Nova.
    app = create_app(conf, db=db, conductor=LocalConductor.for_conf(conf, db))
    made = falcon.testing.TestClient(app)
    result = made.simulate_post(
        "/v2/device_profiles", json=[{"name": "one", "groups": [{"resources:PGPU": "1"}]}]
    )
    assert result.status_code == 201
    return made


def test_bind_sends_completed_and_failed_events(client, db, nova):
    gpu = seed.device(db, handles=1)
    first, second = create(client)[0], create(client)[0]
    instance = str(uuid.uuid4())
    body = {a["uuid"]: bind_ops(gpu["rp_uuid"], instance) for a in (first, second)}
    assert patch(client, body).status_code == 202
    states = {a["uuid"]: show(client, a["uuid"]).json["state"] for a in (first, second)}
    assert sorted(states.values()) == ["BindFailed", "Bound"]

    [request] = nova.received
    assert request["path"] == "/v2.1/os-server-external-events"
    assert request["headers"]["OpenStack-API-Version"] == "compute 2.82"
    assert sorted(nova.events(), key=lambda e: e["tag"]) == sorted(
        (
            {
                "name": "accelerator-request-bound",
                "server_uuid": instance,
                "tag": arq_uuid,
                "status": "completed" if state == "Bound" else "failed",
            }
            for arq_uuid, state in states.items()
        ),
        key=lambda e: e["tag"],
    )


def test_a_partial_207_is_accepted_and_unbind_sends_nothing(client, db, nova):
    gpu = seed.device(db, handles=1)
    nova.status = 207
    arq = create(client)[0]
    result = patch(client, {arq["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))})
    assert result.status_code == 202
    assert [e["status"] for e in nova.events()] == ["completed"]
    assert patch(client, {arq["uuid"]: UNBIND_OPS}).status_code == 202
    assert len(nova.received) == 1
    assert handles_in_use(db) == 0


def test_a_refused_bind_request_sends_nothing(client, db, nova):
    arq = create(client)[0]
    bad = {arq["uuid"]: [{"op": "add", "path": "/hostname", "value": "h"}]}
    assert patch(client, bad).status_code == 400
    assert nova.received == []


def test_drained_or_maintained_devices_are_never_bound(client, db, nova):
    drained = seed.device(db, pci="0000:3b:00.0")
    maintained = seed.device(db, pci="0000:5e:00.0")
    with db.transaction() as s:
        s.execute(
            sa.update(models.Device)
            .where(models.Device.uuid == drained["device_uuid"])
            .values(firmware_drain=str(uuid.uuid4()))
        )
    disabled = client.simulate_post(f"/v2/devices/{maintained['device_uuid']}/disable")
    assert disabled.status_code == 204
    for target in (drained, maintained):
        arq = create(client)[0]
        patch(client, {arq["uuid"]: bind_ops(target["rp_uuid"], str(uuid.uuid4()))})
        assert show(client, arq["uuid"]).json["state"] == "BindFailed"
    assert [e["status"] for e in nova.events()] == ["failed", "failed"]
    assert handles_in_use(db) == 0


def test_nova_down_does_not_fail_the_bind(conf, db):
    nobody = f"http://127.0.0.1:{servers.free_port()}/v2.1"  # nothing listens there
    placement_server.point_at(conf, nobody, group="nova")
    app = create_app(conf, db=db, conductor=LocalConductor.for_conf(conf, db))
    client = falcon.testing.TestClient(app)
    client.simulate_post(
        "/v2/device_profiles", json=[{"name": "one", "groups": [{"resources:PGPU": "1"}]}]
    )
    gpu = seed.device(db)
    arq = create(client)[0]
    result = patch(client, {arq["uuid"]: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))})
    assert result.status_code == 202
    assert show(client, arq["uuid"], personas.MEMBER).json["state"] == "Bound"


def test_the_api_casts_reach_the_conductor_over_the_bus(conf, db, nova, tmp_path):
    # The real wire: ConductorAPI's 1.3 casts over the in-process transport to a running
    # ConductorService, which reads [nova] and sends the events itself.
    from cyborg_lite import rpc
    from cyborg_lite.conductor.rpcapi import ConductorAPI
    from cyborg_lite.conductor.service import ConductorService
    from tests.waiting import wait_for

    placement_server.point_at(conf, nova.url, group="nova")
    transport = rpc.get_transport(conf)
    service = ConductorService(conf, db, transport, None)
    service.start()
    try:
        client = falcon.testing.TestClient(
            create_app(conf, db=db, conductor=ConductorAPI(transport))
        )
        client.simulate_post(
            "/v2/device_profiles", json=[{"name": "one", "groups": [{"resources:PGPU": "1"}]}]
        )
        gpu = seed.device(db)
        arq = create(client)[0]
        instance = str(uuid.uuid4())
        assert patch(client, {arq["uuid"]: bind_ops(gpu["rp_uuid"], instance)}).status_code == 202
        events = wait_for("Nova's event from the conductor", nova.events, timeout=20)
        assert events == [
            {
                "name": "accelerator-request-bound",
                "server_uuid": instance,
                "tag": arq["uuid"],
                "status": "completed",
            }
        ]
        # Without [placement] the conductor's device sync is a no-op, and the cast is served.
        assert client.simulate_post(f"/v2/devices/{gpu['device_uuid']}/disable").status_code == 204
    finally:
        service.stop()
