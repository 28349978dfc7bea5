"""The whole scheduling path, played as Nova plays it, against the real API (gunicorn), the
real Placement and a recording Nova endpoint; and binds racing over HTTP on PostgreSQL.

The conductor's side (a report reconciled, then Placement brought in line) runs in the test
process through the manager's RPC endpoint, as a conductor would on a report.
"""

from __future__ import annotations

import json
import random
import urllib.parse
import uuid
from concurrent import futures

import pytest

from cyborg_lite import rpc
from cyborg_lite.conductor.manager import ConductorManager
from cyborg_lite.conductor.service import ConductorService
from cyborg_lite.db import models
from cyborg_lite.db.engine import Database
from cyborg_lite.placement.client import PlacementClient
from cyborg_lite.placement.sync import ProviderSync
from tests import nova_server, personas, placement_server, seed, services
from tests.conftest import make_test_conf
from tests.functional import servers
from tests.functional.test_arqs import bind_ops
from tests.unit.test_reconcile_diff import device_dict
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

NOVA = personas.NOVA


def api_call(base, method, path, body=None, headers=NOVA):
    status, _headers, raw = servers.call(method, base + path, body, headers)
    return status, (json.loads(raw) if raw else None)


def placement(url, method, path, body=None):
    return placement_server.call(url, method, path, body)


def candidates(url, groups):
    """``GET /allocation_candidates`` for a device profile's groups, as Nova builds it: one
    suffixed granular group per profile group, the root required to accept accelerators."""
    query = {"root_required": "COMPUTE_ACCELERATORS", "limit": "10"}
    for i, group in enumerate(groups):
        suffix = f"_device_profile_{i}"
        query[f"resources{suffix}"] = ",".join(
            f"{k.split(':', 1)[1]}:{v}" for k, v in group.items() if k.startswith("resources:")
        )
        required = [k.split(":", 1)[1] for k, v in group.items() if k.startswith("trait:")]
        if required:
            query[f"required{suffix}"] = ",".join(required)
    status, body = placement(url, "GET", "/allocation_candidates?" + urllib.parse.urlencode(query))
    assert status == 200, body
    return body["allocation_requests"]


def test_a_scheduler_end_to_end(tmp_path, placement_url):
    host = f"compute-{uuid.uuid4().hex[:8]}.example.org"
    # This test's own firmware version, so no other test's provider matches the profile.
    version = f"97.00.{random.randrange(10**6)}"
    trait = "CUSTOM_FW_VBIOS_97_00_" + version.rsplit(".", 1)[1]
    # Nova's compute-node provider.
    _, root = placement(placement_url, "POST", "/resource_providers", {"name": host})
    placement(
        placement_url,
        "PUT",
        f"/resource_providers/{root['uuid']}/traits",
        {"resource_provider_generation": root["generation"], "traits": ["COMPUTE_ACCELERATORS"]},
    )
    options = {
        **placement_server.conf_overrides(placement_url),
        "api.workers": 1,
    }
    # The API (gunicorn) casts finished binds to a conductor over RabbitMQ; the conductor
    # owns the Nova client and tells Nova.
    with nova_server.running_nova() as nova, services.rabbit_vhost() as bus_url:
        options.update(placement_server.conf_overrides(nova.url, group="nova"))
        options["transport_url"] = bus_url
        with servers.running_api(options, tmp_path) as api:
            db = Database(servers.sqlite_url(tmp_path))
            conf = placement_server.point_at(make_test_conf(str(tmp_path)), placement_url)
            placement_server.point_at(conf, nova.url, group="nova")
            conf.set_override("transport_url", bus_url)
            sync = ProviderSync(db, PlacementClient.from_conf(conf))
            transport = rpc.get_transport(conf)
            service = ConductorService(conf, db, transport, None)
            service.start()
            conductor = ConductorManager(db, None, after_report=lambda h: sync.sync_host(h))
            conductor.report_inventory(
                None,
                {
                    "host": host,
                    "agent_version": "t",
                    "digest": "d1",
                    "devices": [
                        device_dict("gpu-1", vbios=version),
                        device_dict("gpu-2", pci="0000:5e:00.0", vbios="96.0"),
                    ],
                },
            )
            try:
                _scheduler_flow(api, placement_url, nova, db, sync, host, trait)
            finally:
                service.stop()
                transport.cleanup()
                db.dispose()


def _scheduler_flow(api, placement_url, nova, db, sync, host, trait):
    # 1. The flavor names a profile; Nova reads its groups.
    groups = [{"resources:PGPU": "1", f"trait:{trait}": "required"}]
    # An operator makes the profile; everything after is Nova (a user's and a service token).
    made = [{"name": "fw", "groups": groups}]
    assert api_call(api, "POST", "/v2/device_profiles", made, personas.ADMIN)[0] == 201
    status, found = api_call(api, "GET", "/v2/device_profiles?name=fw")
    assert status == 200
    [profile] = found["device_profiles"]

    # 2. The scheduler: only gpu-1 carries the firmware trait.
    [choice] = candidates(placement_url, profile["groups"])
    # mappings are keyed by the suffix as sent (resources_device_profile_0 -> _device_profile_0).
    [rp] = choice["mappings"]["_device_profile_0"]
    assert rp == str(uuid.uuid3(uuid.NAMESPACE_DNS, f"{host}_dep-gpu-1"))
    instance = str(uuid.uuid4())
    claim = {
        "allocations": choice["allocations"],
        "project_id": personas.PROJECT_A,
        "user_id": "nova-user",
        "consumer_generation": None,
    }
    assert placement(placement_url, "PUT", f"/allocations/{instance}", claim)[0] == 204
    assert candidates(placement_url, profile["groups"]) == []  # its one accelerator is taken

    # 3-4. The conductor creates the ARQs and binds them where Placement put them.
    status, made = api_call(api, "POST", "/v2/accelerator_requests", {"device_profile_name": "fw"})
    assert status == 201
    [arq] = made["arqs"]
    assert arq["device_profile_group_id"] == 0
    body = {arq["uuid"]: bind_ops(rp, instance, host=host)}
    assert api_call(api, "PATCH", "/v2/accelerator_requests", body)[0] == 202

    # 5. Nova hears the bind finished (from the conductor, which the API's cast reached).
    wait_for("Nova's accelerator-request-bound event", nova.events, timeout=30)
    assert nova.events() == [
        {
            "name": "accelerator-request-bound",
            "server_uuid": instance,
            "tag": arq["uuid"],
            "status": "completed",
        }
    ]

    # 6. Compute reads the resolved ARQs and finds the PCI function to attach.
    query = f"/v2/accelerator_requests?instance={instance}&bind_state=resolved"
    status, resolved = api_call(api, "GET", query)
    assert status == 200
    [bound] = resolved["arqs"]
    assert (bound["state"], bound["device_rp_uuid"], bound["hostname"]) == ("Bound", rp, host)
    assert bound["attach_handle_type"] == "PCI"
    assert bound["attach_handle_info"] == {
        "domain": "0000",
        "bus": "3b",
        "device": "00",
        "function": "0",
    }

    # 8a. The instance is deleted: ARQs by instance, then Nova drops its allocation.
    assert api_call(api, "DELETE", f"/v2/accelerator_requests?instance={instance}")[0] == 204
    assert placement(placement_url, "DELETE", f"/allocations/{instance}")[0] == 204
    assert api_call(api, "GET", f"/v2/accelerator_requests?instance={instance}")[1]["arqs"] == []
    assert len(candidates(placement_url, profile["groups"])) == 1  # capacity is free again
    with db.transaction() as s:
        assert not s.query(models.AttachHandle).filter_by(in_use=True).count()

    # A firmware drain takes it out of scheduling; the restore gives it back.
    with db.transaction() as s:
        device = s.query(models.Device).filter_by(hostname=host, stable_id="gpu-1").one()
    sync.drain(device.uuid)
    assert candidates(placement_url, profile["groups"]) == []
    sync.restore(device.uuid)
    assert len(candidates(placement_url, profile["groups"])) == 1


def test_parallel_binds_over_http_never_share_a_handle_on_postgresql(tmp_path):
    """Eight binds at once through four API workers, one deployable with three handles."""
    with services.server_database("postgresql") as url:
        options = {"database.connection": url, "api.workers": 4, "api.threads": 2}
        with servers.running_api(options, tmp_path) as api:
            db = Database(url)
            gpu = seed.device(db, handles=3)
            groups = [{"resources:PGPU": "1"}]
            made = [{"name": "one", "groups": groups}]
            assert api_call(api, "POST", "/v2/device_profiles", made, personas.ADMIN)[0] == 201
            create = {"device_profile_name": "one"}
            arqs = [
                api_call(api, "POST", "/v2/accelerator_requests", create)[1]["arqs"][0]["uuid"]
                for _ in range(8)
            ]

            def bind(arq_uuid):
                body = {arq_uuid: bind_ops(gpu["rp_uuid"], str(uuid.uuid4()))}
                return api_call(api, "PATCH", "/v2/accelerator_requests", body)[0]

            with futures.ThreadPoolExecutor(8) as pool:
                assert list(pool.map(bind, arqs)) == [202] * 8
            shown = [api_call(api, "GET", f"/v2/accelerator_requests/{a}")[1] for a in arqs]
            bound = [a for a in shown if a["state"] == "Bound"]
            assert len(bound) == 3
            assert len({a["attach_handle_uuid"] for a in bound}) == 3
            assert sorted({a["state"] for a in shown}) == ["BindFailed", "Bound"]
            db.dispose()
