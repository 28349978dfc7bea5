"""The rest of the API as deployed: profiles, ARQs, hosts, firmware and rollouts through the real
``cyborg-lite-api`` (gunicorn) over HTTP; with ``test_gunicorn.py``, every route is called."""

from __future__ import annotations

import hashlib
import json
import urllib.request
import uuid
from typing import Any

import pytest

from cyborg_lite.api import routes
from cyborg_lite.api.resources import (
    arqs,
    attributes,
    deployables,
    device_firmware,
    device_profiles,
    devices,
    firmware_images,
    health,
    hosts,
    loans,
    metrics,
    openapi,
    pools,
    rollouts,
    usage,
    versions,
)
from cyborg_lite.db import models
from cyborg_lite.db.engine import Database
from tests import seed
from tests.functional.servers import call, running_api, sqlite_url

pytestmark = pytest.mark.slow

V24 = {"OpenStack-API-Version": "accelerator 2.4"}
V26 = {"OpenStack-API-Version": "accelerator 2.6"}
V27 = {"OpenStack-API-Version": "accelerator 2.7"}
NOVA = {
    "X-Roles": "member",
    "X-Project-Id": "p1",
    "X-User-Id": "nova-user",
    "X-Service-Roles": "service",
}


def upload(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        url, data, {**V24, "Content-Type": "application/octet-stream"}, method="PUT"
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        return resp.status, json.loads(resp.read())


def test_every_other_route_over_real_http(tmp_path):
    with running_api({}, tmp_path) as base:
        db = Database(sqlite_url(tmp_path))
        ids = seed.device(db, hostname="compute1", handles=2)
        with db.transaction() as s:
            s.add(
                models.FirmwareComponent(
                    device_id=ids["device_id"],
                    component="vbios",
                    version="96.00.5A.00.01",
                    updatable=True,
                )
            )
        db.dispose()
        exercised: set[str] = set()

        def req(
            template: str,
            method: str,
            path: str,
            body: Any = None,
            headers: dict[str, str] | None = None,
        ) -> tuple[int, Any]:
            exercised.add(template)
            status, hdrs, raw = call(method, base + path, body=body, headers=headers)
            assert hdrs["x-openstack-request-id"].startswith("req-")
            if status == 204:
                assert raw == b""
            is_json = hdrs.get("content-type", "").startswith("application/json")
            return status, json.loads(raw) if is_json and raw else raw

        # Device profiles, as the CLI and Nova use them.
        profile = [
            {
                "name": "gpu-h100",
                "description": None,
                "groups": [{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}],
            }
        ]
        status, created = req("/v2/device_profiles", "POST", "/v2/device_profiles", profile)
        assert (status, created["name"]) == (201, "gpu-h100")
        status, listed = req("/v2/device_profiles", "GET", "/v2/device_profiles?name=gpu-h100")
        assert [p["uuid"] for p in listed["device_profiles"]] == [created["uuid"]]
        status, shown = req(
            "/v2/device_profiles/{value}", "GET", f"/v2/device_profiles/{created['uuid']}"
        )
        assert shown["device_profile"]["groups"] == profile[0]["groups"]

        # Nova's sequence: create ARQs, bind on the collection, read resolved, delete.
        instance = str(uuid.uuid4())
        status, made = req(
            "/v2/accelerator_requests",
            "POST",
            "/v2/accelerator_requests",
            {"device_profile_name": "gpu-h100"},
            NOVA,
        )
        assert status == 201
        arq = made["arqs"][0]["uuid"]
        bind = {
            arq: [
                {"op": "add", "path": "/hostname", "value": "compute1"},
                {"op": "add", "path": "/device_rp_uuid", "value": ids["rp_uuid"]},
                {"op": "add", "path": "/instance_uuid", "value": instance},
            ]
        }
        status, body = req(
            "/v2/accelerator_requests", "PATCH", "/v2/accelerator_requests", bind, NOVA
        )
        assert (status, body) == (202, b"")
        status, resolved = req(
            "/v2/accelerator_requests",
            "GET",
            f"/v2/accelerator_requests?instance={instance}&bind_state=resolved",
            headers=NOVA,
        )
        assert resolved["arqs"][0]["state"] == "Bound"
        assert resolved["arqs"][0]["attach_handle_info"] == {
            "domain": "0000",
            "bus": "3b",
            "device": "00",
            "function": "0",
        }
        status, one = req(
            "/v2/accelerator_requests/{uuid}",
            "GET",
            f"/v2/accelerator_requests/{arq}",
            headers=NOVA,
        )
        assert one["uuid"] == arq
        status, _ = req(
            "/v2/accelerator_requests",
            "DELETE",
            f"/v2/accelerator_requests?instance={instance}",
            headers=NOVA,
        )
        assert status == 204
        status, _ = req("/v2/device_profiles/{value}", "DELETE", "/v2/device_profiles/gpu-h100")
        assert status == 204

        # Hosts (2.4).
        status, hostlist = req("/v2/hosts", "GET", "/v2/hosts", headers=V24)
        assert [h["hostname"] for h in hostlist["hosts"]] == ["compute1"]
        status, host = req("/v2/hosts/{hostname}", "GET", "/v2/hosts/compute1", headers=V24)
        assert host["device_count"] == 1

        # Firmware catalog: register, stream the bytes up, read them back.
        data = b"VBIOS" * 1000
        status, image = req(
            "/v2/firmware_images",
            "POST",
            "/v2/firmware_images",
            {
                "name": "vbios",
                "vendor": "10de",
                "component": "vbios",
                "version": "96.00.99.00.01",
                "device_ids": ["2330"],
                "sha256": hashlib.sha256(data).hexdigest(),
            },
            V24,
        )
        assert (status, image["status"]) == (201, "queued")
        exercised.add("/v2/firmware_images/{uuid}/file")
        status, active = upload(f"{base}/v2/firmware_images/{image['uuid']}/file", data)
        assert (status, active["status"]) == (200, "active")
        status, raw = req(
            "/v2/firmware_images/{uuid}/file",
            "GET",
            f"/v2/firmware_images/{image['uuid']}/file",
            headers=V24,
        )
        assert raw == data
        status, images = req("/v2/firmware_images", "GET", "/v2/firmware_images", headers=V24)
        assert len(images["firmware_images"]) == 1
        assert (
            req(
                "/v2/firmware_images/{uuid}",
                "GET",
                f"/v2/firmware_images/{image['uuid']}",
                headers=V24,
            )[0]
            == 200
        )

        # Rollouts: dry run, start, read, jobs, abort; the device's firmware view.
        body = {
            "image_uuid": image["uuid"],
            "selector": {"hosts": ["compute1"]},
            "strategy": {"canary": 0},
        }
        status, plan = req(
            "/v2/firmware_rollouts", "POST", "/v2/firmware_rollouts", {**body, "dry_run": True}, V24
        )
        assert (status, plan["total"]) == (200, 1)
        status, rollout = req("/v2/firmware_rollouts", "POST", "/v2/firmware_rollouts", body, V24)
        assert (status, rollout["state"]) == (201, "running")
        path = f"/v2/firmware_rollouts/{rollout['uuid']}"
        assert req("/v2/firmware_rollouts", "GET", "/v2/firmware_rollouts", headers=V24)[0] == 200
        assert req("/v2/firmware_rollouts/{uuid}", "GET", path, headers=V24)[0] == 200
        status, jobs = req("/v2/firmware_rollouts/{uuid}/jobs", "GET", path + "/jobs", headers=V24)
        assert [j["device_uuid"] for j in jobs["jobs"]] == [ids["device_uuid"]]
        status, aborted = req(
            "/v2/firmware_rollouts/{uuid}/action",
            "POST",
            path + "/action",
            {"action": "abort"},
            V24,
        )
        assert aborted["state"] == "aborted"
        status, fw = req(
            "/v2/devices/{uuid}/firmware",
            "GET",
            f"/v2/devices/{ids['device_uuid']}/firmware",
            headers=V24,
        )
        assert [c["component"] for c in fw["components"]] == ["vbios"]
        assert [h["rollout_uuid"] for h in fw["history"]] == [rollout["uuid"]]
        status, _ = req(
            "/v2/firmware_images/{uuid}",
            "DELETE",
            f"/v2/firmware_images/{image['uuid']}",
            headers=V24,
        )
        assert status == 204
        status, series = req(
            "/v2/devices/{uuid}/usage",
            "GET",
            f"/v2/devices/{ids['device_uuid']}/usage?resolution=3600",
            headers=V26,
        )
        assert (status, series["resolution_seconds"], series["samples"]) == (200, 3600, [])
        status, summary = req("/v2/usage", "GET", "/v2/usage", headers=V26)
        assert status == 200
        assert [(g["model"], g["devices"], g["idle"]) for g in summary["by_model"]] == [
            ("NVIDIA H100 80GB HBM3", 1, 0)
        ]
        # Lending (2.7): a pool of the device, a window, a loan, reclaim and the account.
        pools_t, item_t = "/v2/accelerator_pools", "/v2/accelerator_pools/{uuid}"
        body = {"name": "lend", "owner_project_id": "p1", "selector": {"hosts": ["compute1"]}}
        status, made_pool = req(pools_t, "POST", pools_t, body, headers=V27)
        assert (status, made_pool["device_uuids"]) == (201, [ids["device_uuid"]])
        item = f"{pools_t}/{made_pool['uuid']}"
        status, listed_pools = req(pools_t, "GET", f"{pools_t}?name=lend", headers=V27)
        assert [p["uuid"] for p in listed_pools["accelerator_pools"]] == [made_pool["uuid"]]
        status, shown_pool = req(item_t, "GET", item, headers=V27)
        assert (status, shown_pool["open_now"]) == (200, False)
        status, patched = req(item_t, "PATCH", item, {"notice_seconds": 5}, headers=V27)
        assert (status, patched["notice_seconds"]) == (200, 5)
        window = {"days": ["mon"], "start": "19:00", "end": "07:00"}
        status, made_window = req(f"{item_t}/windows", "POST", f"{item}/windows", window, V27)
        assert status == 201
        status, _ = req(
            f"{item_t}/windows/{{window_uuid}}",
            "DELETE",
            f"{item}/windows/{made_window['uuid']}",
            headers=V27,
        )
        assert status == 204
        db = Database(sqlite_url(tmp_path))
        with db.transaction() as s:
            loan = models.Loan(
                pool_uuid=made_pool["uuid"],
                device_uuid=ids["device_uuid"],
                owner_project_id="p1",
                borrower_project_id="p2",
                arq_uuid=str(uuid.uuid4()),
                state="active",
                started_at=models.utcnow(),
                reclaim_attempts=0,
            )
            s.add(loan)
            s.flush()
            loan_uuid = loan.uuid
        db.dispose()
        status, reclaimed = req(
            f"{item_t}/action", "POST", f"{item}/action", {"action": "reclaim"}, V27
        )
        assert (status, [x["uuid"] for x in reclaimed["loans"]]) == (202, [loan_uuid])
        status, loans_page = req("/v2/loans", "GET", "/v2/loans?state=reclaiming", headers=V27)
        assert [x["uuid"] for x in loans_page["loans"]] == [loan_uuid]
        status, one = req("/v2/loans/{uuid}", "GET", f"/v2/loans/{loan_uuid}", headers=V27)
        assert (status, one["state"]) == (200, "reclaiming")
        status, account = req(
            "/v2/loans/summary", "GET", "/v2/loans/summary?group_by=owner", headers=V27
        )
        assert (status, [g["key"] for g in account["groups"]]) == (200, ["p1"])
        status, _ = req(item_t, "DELETE", item, headers=V27)
        assert status == 409  # the loan is still open
        status, scraped = req("/metrics", "GET", "/metrics")
        assert status == 200
        assert b"# TYPE" in scraped
        assert b"# TYPE cyborg_lite_device_utilization_ratio gauge" in scraped
        assert b'cyborg_lite_lent_device_seconds_total{owner_project_id="p1"' in scraped

    mine = (
        arqs,
        device_firmware,
        device_profiles,
        firmware_images,
        hosts,
        loans,
        metrics,
        pools,
        rollouts,
        usage,
    )
    expected = {t for t, cls, _ in routes.ROUTES if any(cls.__module__ == m.__name__ for m in mine)}
    assert expected <= exercised
    # Together with test_gunicorn.py, which calls every route of the other modules, every
    # route in ROUTES is served by gunicorn in the suite: no module is left to neither.
    theirs = (attributes, deployables, devices, health, openapi, versions)
    both = {m.__name__ for m in (*mine, *theirs)}
    assert {cls.__module__ for _, cls, _ in routes.ROUTES} <= both
