"""The rollout API story without the engine running: plan, start, read, steer, roll back."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import sqlalchemy as sa

from cyborg_lite.db import models
from cyborg_lite.firmware import states
from tests import personas, seed
from tests.functional.envelope import message

V24 = personas.headers("admin", version="2.4")
OCTETS = {**V24, "Content-Type": "application/octet-stream"}
OLD, NEW = "96.00.5A.00.01", "96.00.99.00.01"


def add_firmware(db, device_id, version=OLD, updatable=True, component="vbios"):
    with db.transaction() as s:
        s.add(
            models.FirmwareComponent(
                device_id=device_id,
                component=component,
                version=version,
                updatable=updatable,
                activation="reset",
            )
        )


def gpu_fleet(db, hosts=3, per_host=2):
    out = []
    for h in range(hosts):
        for i in range(per_host):
            d = seed.device(db, hostname=f"node{h}", pci=f"0000:{0x3B + i:02x}:00.0")
            add_firmware(db, d["device_id"])
            out.append(d)
    return out


def image(client, version=NEW, upload=True, data=None):
    data = data or f"vbios {version}".encode()
    body = {
        "name": f"vbios {version}",
        "vendor": "10de",
        "component": "vbios",
        "version": version,
        "device_ids": ["2330"],
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    created = client.simulate_post("/v2/firmware_images", json=body, headers=V24).json
    if upload:
        put = client.simulate_put(
            f"/v2/firmware_images/{created['uuid']}/file", body=data, headers=OCTETS
        )
        assert put.status_code == 200
    return created["uuid"]


def start(client, image_uuid, selector, strategy=None, dry_run=False):
    body = {
        "image_uuid": image_uuid,
        "selector": selector,
        "strategy": strategy or {"canary": 1, "waves": ["50%", "100%"]},
        "dry_run": dry_run,
    }
    return client.simulate_post("/v2/firmware_rollouts", json=body, headers=V24)


def test_dry_run_is_exactly_what_starts(client, db):
    fleet = gpu_fleet(db)
    with db.transaction() as s:  # one device already at the new version
        s.execute(
            sa.update(models.FirmwareComponent)
            .where(models.FirmwareComponent.device_id == fleet[0]["device_id"])
            .values(version=NEW)
        )
    img = image(client)
    selector = {"hosts": ["node0", "node1", "node2"]}
    dry = start(client, img, selector, dry_run=True)
    assert dry.status_code == 200
    plan = dry.json
    assert plan["dry_run"] is True
    assert plan["total"] == 5
    assert [len(w["devices"]) for w in plan["waves"]] == [1, 2, 2]
    assert plan["waves"][0]["canary"] is True
    assert plan["excluded"] == [
        {
            "uuid": fleet[0]["device_uuid"],
            "hostname": "node0",
            "reason": "already_at_version",
            "detail": f"already at {NEW}",
        }
    ]
    # Nothing was created by the dry run.
    assert client.simulate_get("/v2/firmware_rollouts", headers=V24).json == {
        "firmware_rollouts": []
    }

    real = start(client, img, selector)
    assert real.status_code == 201
    rollout = real.json
    assert rollout["state"] == "running"
    assert rollout["total"] == 5
    assert rollout["counts"]["pending"] == 5
    assert [w["size"] for w in rollout["waves"]] == [1, 2, 2]
    assert rollout["created_by"]["user_id"] == "user-admin"
    jobs = client.simulate_get(f"/v2/firmware_rollouts/{rollout['uuid']}/jobs", headers=V24).json[
        "jobs"
    ]
    planned = [d["uuid"] for w in plan["waves"] for d in w["devices"]]
    assert [j["device_uuid"] for j in jobs] == planned
    assert [j["wave"] for j in jobs] == [0, 1, 1, 2, 2]
    assert all(j["version_before"] == OLD and j["state"] == "pending" for j in jobs)


def test_jobs_filters_and_paging(client, db):
    gpu_fleet(db)
    img = image(client)
    rollout = start(client, img, {"hosts": ["node0", "node1", "node2"]}).json
    path = f"/v2/firmware_rollouts/{rollout['uuid']}/jobs"
    wave2 = client.simulate_get(path, query_string="wave=2", headers=V24).json["jobs"]
    assert len(wave2) == 3  # 6 devices: canary 1, to 50% (+2), to 100% (+3)
    assert {j["wave"] for j in wave2} == {2}
    first = client.simulate_get(path, query_string="limit=4", headers=V24)
    assert len(first.json["jobs"]) == 4
    last = first.json["jobs"][-1]["uuid"]
    rest = client.simulate_get(path, query_string=f"limit=4&marker={last}", headers=V24)
    assert len(rest.json["jobs"]) == 2
    bad = client.simulate_get(path, query_string="state=exploded", headers=V24)
    assert bad.status_code == 400
    assert "exploded" in message(bad)


def test_pause_resume_abort(client, db):
    gpu_fleet(db)
    rollout = start(client, image(client), {"hosts": ["node0", "node1"]}).json
    action = f"/v2/firmware_rollouts/{rollout['uuid']}/action"
    paused = client.simulate_post(action, json={"action": "pause"}, headers=V24)
    assert paused.status_code == 200
    assert paused.json["state"] == "paused"
    assert paused.json["last_action"]["action"] == "pause"
    again = client.simulate_post(action, json={"action": "pause"}, headers=V24)
    assert again.status_code == 409
    assert "it is paused" in message(again)
    assert (
        client.simulate_post(action, json={"action": "resume"}, headers=V24).json["state"]
        == "running"
    )
    aborted = client.simulate_post(action, json={"action": "abort"}, headers=V24).json
    assert aborted["state"] == "aborted"
    assert aborted["counts"]["cancelled"] == 4
    assert aborted["finished_at"] is not None
    assert client.simulate_post(action, json={"action": "resume"}, headers=V24).status_code == 409
    bad = client.simulate_post(action, json={"action": "explode"}, headers=V24)
    assert bad.status_code == 400


def _finish_jobs(db, rollout_uuid, state=states.SUCCEEDED):
    with db.transaction() as s:
        rid = s.scalar(sa.select(models.Rollout.id).where(models.Rollout.uuid == rollout_uuid))
        s.execute(
            sa.update(models.RolloutJob)
            .where(models.RolloutJob.rollout_id == rid)
            .values(state=state, version_after=NEW)
        )
        s.execute(
            sa.update(models.Rollout).where(models.Rollout.id == rid).values(state=states.COMPLETED)
        )
        s.execute(sa.update(models.FirmwareComponent).values(version=NEW))


def test_rollback_needs_the_previous_image(client, db):
    fleet = gpu_fleet(db, hosts=1)
    rollout = start(client, image(client), {"hosts": ["node0"]}).json
    _finish_jobs(db, rollout["uuid"])
    action = f"/v2/firmware_rollouts/{rollout['uuid']}/action"
    refused = client.simulate_post(action, json={"action": "rollback"}, headers=V24)
    assert refused.status_code == 409
    assert f"version {OLD}" in message(refused)
    assert (
        len(client.simulate_get("/v2/firmware_rollouts", headers=V24).json["firmware_rollouts"])
        == 1
    )

    old_image = image(client, version=OLD)
    back = client.simulate_post(action, json={"action": "rollback"}, headers=V24)
    assert back.status_code == 201
    [created] = back.json["firmware_rollouts"]
    assert created["rollback_of"] == rollout["uuid"]
    assert created["image_uuid"] == old_image
    assert created["target_version"] == OLD
    assert created["total"] == 2
    assert list(created["selector"]) == ["device_uuids"]
    assert sorted(created["selector"]["device_uuids"]) == sorted(d["device_uuid"] for d in fleet)

    history = client.simulate_get(
        f"/v2/devices/{fleet[0]['device_uuid']}/firmware", headers=V24
    ).json
    assert [c["version"] for c in history["components"]] == [NEW]
    assert [(h["rollout_uuid"], h["target_version"]) for h in history["history"]] == [
        (rollout["uuid"], NEW),
        (created["uuid"], OLD),
    ]


def test_image_delete_refused_while_used(client, db):
    gpu_fleet(db, hosts=1)
    img = image(client)
    rollout = start(client, img, {"hosts": ["node0"]}).json
    refused = client.simulate_delete(f"/v2/firmware_images/{img}", headers=V24)
    assert refused.status_code == 409
    assert rollout["uuid"] in message(refused)
    client.simulate_post(
        f"/v2/firmware_rollouts/{rollout['uuid']}/action", json={"action": "abort"}, headers=V24
    )
    assert client.simulate_delete(f"/v2/firmware_images/{img}", headers=V24).status_code == 204
    shown = client.simulate_get(f"/v2/firmware_rollouts/{rollout['uuid']}", headers=V24).json
    assert shown["image_uuid"] == img  # history keeps the image's identity


def test_devices_busy_in_another_rollout_are_excluded(client, db):
    gpu_fleet(db, hosts=1)
    img = image(client)
    start(client, img, {"hosts": ["node0"]})
    dry = start(client, img, {"hosts": ["node0"]}, dry_run=True).json
    assert dry["total"] == 0
    assert {e["reason"] for e in dry["excluded"]} == {"busy"}


@pytest.mark.parametrize(
    ("mutate", "status", "text"),
    [
        (lambda b: b.update(selector={}), 400, "selector is empty"),
        (lambda b: b.update(selector={"hosts": []}), 400, "non-empty"),
        (lambda b: b.update(strategy={"waves": ["0%"]}), 400, "percentage"),
        (lambda b: b.update(image_uuid="nope"), 400, "image_uuid"),
        (lambda b: b.update(image_uuid=str(uuid.uuid4())), 404, "not found"),
        (lambda b: b.update(surprise=1), 400, "surprise"),
    ],
)
def test_bad_requests(client, db, mutate, status, text):
    gpu_fleet(db, hosts=1)
    body = {"image_uuid": image(client), "selector": {"hosts": ["node0"]}}
    mutate(body)
    result = client.simulate_post("/v2/firmware_rollouts", json=body, headers=V24)
    assert result.status_code == status
    assert text in message(result)


def test_queued_image_cannot_roll_out(client, db):
    gpu_fleet(db, hosts=1)
    img = image(client, upload=False)
    result = start(client, img, {"hosts": ["node0"]})
    assert result.status_code == 409
    assert "no bytes" in message(result)


def test_policy_and_microversion(client, db):
    gpu_fleet(db, hosts=1)
    img = image(client)
    rollout = start(client, img, {"hosts": ["node0"]}).json
    manager = personas.headers("manager", version="2.4")
    assert (
        client.simulate_get(f"/v2/firmware_rollouts/{rollout['uuid']}", headers=manager).status_code
        == 200
    )
    denied = client.simulate_post(
        f"/v2/firmware_rollouts/{rollout['uuid']}/action", json={"action": "pause"}, headers=manager
    )
    assert denied.status_code == 403
    assert "cyborg:firmware_rollout:action" in message(denied)
    member = personas.headers("member", version="2.4")
    assert client.simulate_get("/v2/firmware_rollouts", headers=member).status_code == 403
    old = client.simulate_get(
        "/v2/firmware_rollouts", headers=personas.headers("admin", version="2.3")
    )
    assert old.status_code == 406


def test_actions_record_the_user_and_project_that_took_them(client, db):
    gpu_fleet(db, hosts=1)
    rollout = start(client, image(client), {"hosts": ["node0"]}).json
    assert rollout["created_by"] == {"user_id": "user-admin", "project_id": personas.PROJECT_A}
    assert rollout["last_action"] is None
    other_admin = personas.headers("admin", personas.PROJECT_B, version="2.4")
    action = f"/v2/firmware_rollouts/{rollout['uuid']}/action"
    paused = client.simulate_post(action, json={"action": "pause"}, headers=other_admin).json
    assert {k: paused["last_action"][k] for k in ("action", "user_id", "project_id")} == {
        "action": "pause",
        "user_id": "user-admin",
        "project_id": personas.PROJECT_B,
    }
    assert paused["last_action"]["at"] is not None
    # The creator is kept whoever acts later.
    assert paused["created_by"]["project_id"] == personas.PROJECT_A
