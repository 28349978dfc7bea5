"""FPGA programming through the real app and the real rollout engine: ``PATCH
/v2/deployables/{uuid}/program`` (checks, 200, 202, failed loads) and program at bind
(``accel:bitstream_id`` / ``accel:function_id``), on every database.

The engine runs in the test with agents that record jobs and let the test finish them, so
each step (dispatch, result, bind settled, Nova told) is observed, not timed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid

import pytest
import sqlalchemy as sa

from cyborg_lite.conductor.rollout import Engine
from cyborg_lite.db import models
from cyborg_lite.db.engine import in_transaction
from cyborg_lite.firmware import states
from tests import personas, seed
from tests.functional.envelope import message
from tests.waiting import wait_for

AFU_OLD = "00000000-0000-0000-0000-0000000000a1"
AFU_NEW = "d8424dc4-a4a3-c413-f89e-433683f9040b"
PR_ID = "bfac4d85-1e64-5dd3-bbab-ee67d2a4fc3d"
REGION_TRAIT = "CUSTOM_FPGA_REGION_INTEL_BFAC4D85_1E64_5DD3_BBAB_EE67D2A4FC3D"
V25 = {"OpenStack-API-Version": "accelerator 2.5"}
V24 = {"OpenStack-API-Version": "accelerator 2.4"}


class Agents:
    """Agents that record the jobs dispatched to them; the test decides how each ends."""

    def __init__(self):
        self.jobs = []

    def flash(self, hostname, job):
        self.jobs.append(job)

    def job_status(self, hostname, job_uuid):
        return None


@pytest.fixture
def agents():
    return Agents()


@pytest.fixture
def told():
    """What the engine would tell Nova: one dict per finished batch of binds."""
    return []


@pytest.fixture
def engine(db, agents, told):
    def tell_nova(bound):
        # Nova is told after the commit, never with a transaction open.
        assert not in_transaction()
        told.append(bound)

    return Engine(db, agents, owner="test-conductor", on_bound=tell_nova)


@pytest.fixture
def fpga(db):
    """An Intel N6001 with a PR region, its bitstream slot holding AFU_OLD."""
    found = seed.device(
        db,
        type="FPGA",
        vendor="8086",
        model="Intel FPGA SmartNIC N6001-PL",
        pci="0000:5e:00.0",
        rc="FPGA",
        traits=("CUSTOM_FPGA_INTEL", REGION_TRAIT),
        handles=1,
    )
    with db.transaction() as s:
        s.execute(
            sa.update(models.Device)
            .where(models.Device.id == found["device_id"])
            .values(std_board_info=json.dumps({"product_id": "bcce"}))
        )
        s.add(
            models.FirmwareComponent(
                device_id=found["device_id"],
                component="bitstream",
                version=AFU_OLD,
                updatable=True,
                activation="live",
            )
        )
    return found


def image(db, *, version=AFU_NEW, component="bitstream", status="active", **extra):
    """A catalog image for the N6001 straight into SQL; returns its uuid."""
    with db.transaction() as s:
        img = models.FirmwareImage(
            name=f"{component} {version}",
            vendor="8086",
            component=component,
            version=version,
            device_ids=json.dumps(["bcce"]),
            models="[]",
            sha256=hashlib.sha256(version.encode()).hexdigest(),
            size=len(version),
            status=status,
            signed=False,
            **extra,
        )
        s.add(img)
        s.flush()
        return img.uuid


def program(client, deployable_uuid, image_uuid, headers=None):
    body = [{"path": "/program", "op": "replace", "value": [{"image_uuid": image_uuid}]}]
    return client.simulate_patch(
        f"/v2/deployables/{deployable_uuid}/program", json=body, headers=headers
    )


def rollouts(db):
    with db.transaction() as s:
        return [
            (r.kind, r.state, r.image_uuid)
            for r in s.scalars(sa.select(models.Rollout).order_by(models.Rollout.id))
        ]


def finish(engine, job, ok=True, version=AFU_NEW):
    engine.job_update(job["job_uuid"], states.FLASHING)
    engine.job_update(
        job["job_uuid"],
        states.SUCCEEDED if ok else states.JOB_FAILED,
        version=version if ok else None,
        error_code=None if ok else "hw-error",
        message=None if ok else "fpgaconf failed (1): PR region busy",
    )


# The request's checks


def test_an_image_that_is_not_a_bitstream_is_400(client, db, fpga):
    shell = image(db, component="fpga_shell", version="ofs-2024.3")
    result = program(client, fpga["deployable_uuid"], shell)
    assert result.status_code == 400
    assert message(result) == (
        f"Cannot program: firmware image {shell} is a 'fpga_shell' image, not a 'bitstream'."
    )


def test_an_image_for_another_card_is_400(client, db, fpga):
    other = image(db)
    with db.transaction() as s:
        s.execute(
            sa.update(models.FirmwareImage)
            .where(models.FirmwareImage.uuid == other)
            .values(device_ids='["0b30"]')
        )
    result = program(client, fpga["deployable_uuid"], other)
    assert result.status_code == 400
    assert "(incompatible)" in message(result)
    assert rollouts(db) == []


def test_an_image_for_another_pr_interface_is_400_and_a_matching_one_is_taken(
    client, db, fpga, conf
):
    conf.set_override("program_timeout", 0, group="api")
    elsewhere = image(db, pr_interface_ids=json.dumps(["00000000-1111-2222-3333-444444444444"]))
    result = program(client, fpga["deployable_uuid"], elsewhere)
    assert result.status_code == 400
    assert "fits PR interface ids" in message(result)
    assert REGION_TRAIT.removeprefix("CUSTOM_FPGA_REGION_INTEL_") in message(result)
    # The id as the vendor spells it (lower case, dashes) matches the region's trait.
    fits = image(
        db, version="11111111-2222-3333-4444-555555555555", pr_interface_ids=f'["{PR_ID}"]'
    )
    assert program(client, fpga["deployable_uuid"], fits).status_code == 202


def test_an_image_without_bytes_is_409(client, db, fpga):
    queued = image(db, status="queued")
    result = program(client, fpga["deployable_uuid"], queued)
    assert result.status_code == 409
    assert "no bytes uploaded" in message(result)


def _hold(db, fpga):
    with db.transaction() as s:
        s.execute(sa.update(models.AttachHandle).values(in_use=True))
        profile = models.DeviceProfile(name="p", groups="[]")
        s.add(profile)
        s.flush()
        handle = s.scalar(sa.select(models.AttachHandle.id))
        s.add(
            models.AcceleratorRequest(
                device_profile_id=profile.id,
                device_profile_group_id=0,
                state="Bound",
                attach_handle_id=handle,
                instance_uuid=str(uuid.uuid4()),
            )
        )


def _maintain(db, fpga):
    with db.transaction() as s:
        s.execute(sa.update(models.Device).values(status="maintaining"))


def _host_down(db, fpga):
    with db.transaction() as s:
        s.execute(sa.update(models.Host).values(state="down"))


@pytest.mark.parametrize(
    ("make", "reason"),
    [(_hold, "in_use"), (_maintain, "maintenance"), (_host_down, "host_down")],
)
def test_a_device_that_cannot_be_programmed_now_is_409(client, db, fpga, make, reason):
    new = image(db)
    make(db, fpga)
    result = program(client, fpga["deployable_uuid"], new)
    assert result.status_code == 409
    assert message(result).endswith(f"({reason}).")
    assert rollouts(db) == []


def test_a_second_program_while_one_runs_is_409(client, db, fpga, conf):
    conf.set_override("program_timeout", 0, group="api")
    assert program(client, fpga["deployable_uuid"], image(db)).status_code == 202
    other = image(db, version="22222222-2222-3333-4444-555555555555")
    result = program(client, fpga["deployable_uuid"], other)
    assert result.status_code == 409
    assert "(busy)" in message(result)


def test_the_bitstream_already_running_answers_200_without_a_job(client, db, fpga):
    running = image(db, version=AFU_OLD)
    result = program(client, fpga["deployable_uuid"], running)
    assert result.status_code == 200
    assert result.json["uuid"] == fpga["deployable_uuid"]
    assert rollouts(db) == []


# The load


def test_past_the_timeout_202_names_the_job_and_the_engine_loads_it(
    client, db, fpga, conf, engine, agents
):
    conf.set_override("program_timeout", 0, group="api")
    new = image(db, function_id="nlb0")
    result = program(client, fpga["deployable_uuid"], new, headers={"Host": "h"})
    assert result.status_code == 202
    body = result.json
    assert set(body) == {"job_uuid", "rollout_uuid", "deployable_uuid", "image_uuid", "links"}
    assert body["links"] == [
        {"href": f"http://h/v2/firmware_rollouts/{body['rollout_uuid']}/jobs", "rel": "jobs"},
        {"href": f"http://h/v2/firmware_rollouts/{body['rollout_uuid']}", "rel": "rollout"},
    ]
    jobs = client.simulate_get(body["links"][0]["href"].removeprefix("http://h"), headers=V24)
    (job,) = jobs.json["jobs"]
    assert (job["uuid"], job["state"], job["component"]) == (
        body["job_uuid"],
        "pending",
        "bitstream",
    )
    engine.advance(body["rollout_uuid"])
    (sent,) = agents.jobs
    assert (sent["job_uuid"], sent["component"], sent["target_version"]) == (
        body["job_uuid"],
        "bitstream",
        AFU_NEW,
    )
    finish(engine, sent)
    dep = client.simulate_get(f"/v2/deployables/{fpga['deployable_uuid']}").json
    assert dep["bitstream_id"] == new
    firmware = client.simulate_get(f"/v2/devices/{fpga['device_uuid']}/firmware", headers=V24)
    (component,) = firmware.json["components"]
    assert (component["component"], component["version"]) == ("bitstream", AFU_NEW)
    assert [(k, s) for k, s, _ in rollouts(db)] == [("program", "completed")]


def test_a_failed_load_leaves_the_old_bitstream_and_fails_the_program(
    client, db, fpga, conf, engine, agents
):
    conf.set_override("program_timeout", 0, group="api")
    body = program(client, fpga["deployable_uuid"], image(db)).json
    engine.advance(body["rollout_uuid"])
    finish(engine, agents.jobs[0], ok=False)
    dep = client.simulate_get(f"/v2/deployables/{fpga['deployable_uuid']}").json
    assert dep["bitstream_id"] is None
    # One device, nothing left to protect: failed, not halted waiting for an operator.
    assert [(k, s) for k, s, _ in rollouts(db)] == [("program", "failed")]
    # The device is free again for the next program.
    assert program(client, fpga["deployable_uuid"], image(db, version=AFU_OLD)).status_code == 200


def test_a_device_bound_before_the_load_starts_is_not_loaded_under_its_instance(
    client, db, fpga, conf, engine, agents
):
    conf.set_override("program_timeout", 0, group="api")
    body = program(client, fpga["deployable_uuid"], image(db)).json
    _hold(db, fpga)  # an instance took the device between the request and the drain
    engine.advance(body["rollout_uuid"])
    assert agents.jobs == []
    with db.transaction() as s:
        s.execute(sa.update(models.AttachHandle).values(in_use=False))
        s.execute(sa.delete(models.AcceleratorRequest))
    engine.advance(body["rollout_uuid"])
    assert [j["job_uuid"] for j in agents.jobs] == [body["job_uuid"]]


def _conductor(db, engine, agents, *, ok):
    """A conductor thread: drives the first program it finds, then reports its result."""

    def run():
        def dispatched():
            with db.transaction() as s:
                uuids = list(s.scalars(sa.select(models.Rollout.uuid)))
            for rollout_uuid in uuids:
                engine.advance(rollout_uuid)
            return bool(agents.jobs)

        wait_for("a program to dispatch", dispatched, timeout=20)
        finish(engine, agents.jobs[0], ok=ok)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_load_reported_in_time_answers_200_with_the_programmed_deployable(
    client, db, fpga, conf, engine, agents
):
    conf.set_override("program_timeout", 30, group="api")
    new = image(db)
    thread = _conductor(db, engine, agents, ok=True)
    result = program(client, fpga["deployable_uuid"], new)
    thread.join(30)
    assert result.status_code == 200, result.text
    assert result.json["uuid"] == fpga["deployable_uuid"]
    assert result.json["bitstream_id"] == new


def test_a_load_that_fails_in_time_is_409_with_the_drivers_error(
    client, db, fpga, conf, engine, agents
):
    conf.set_override("program_timeout", 30, group="api")
    new = image(db)
    thread = _conductor(db, engine, agents, ok=False)
    result = program(client, fpga["deployable_uuid"], new)
    thread.join(30)
    assert result.status_code == 409
    text = message(result)
    assert text.startswith(f"Programming deployable {fpga['deployable_uuid']} with image {new}")
    assert "failed (hw-error): fpgaconf failed (1): PR region busy" in text
    assert "keeps its previous function" in text


# Program at bind


def _profile_arq(client, group):
    made = client.simulate_post("/v2/device_profiles", json=[{"name": "fn", "groups": [group]}])
    assert made.status_code == 201, made.text
    arqs = client.simulate_post(
        "/v2/accelerator_requests", json={"device_profile_name": "fn"}, headers=personas.MEMBER
    )
    return arqs.json["arqs"][0]["uuid"]


def _bind(client, arq_uuid, rp_uuid, instance):
    ops = [
        {"op": "add", "path": "/hostname", "value": "compute1"},
        {"op": "add", "path": "/device_rp_uuid", "value": rp_uuid},
        {"op": "add", "path": "/instance_uuid", "value": instance},
    ]
    result = client.simulate_patch(
        "/v2/accelerator_requests", json={arq_uuid: ops}, headers=personas.NOVA
    )
    assert result.status_code == 202, result.text


def _arq(client, arq_uuid, headers=V25):
    return client.simulate_get(f"/v2/accelerator_requests/{arq_uuid}", headers=headers).json


def _held(db):
    with db.transaction() as s:
        return s.scalar(sa.select(sa.func.count()).where(models.AttachHandle.in_use.is_(True)))


@pytest.mark.parametrize("key", ["accel:bitstream_id", "accel:function_id"])
def test_bind_loads_the_bitstream_first_then_binds_and_tells_nova(
    client, db, fpga, engine, agents, told, key
):
    new = image(db, function_id="nlb0")
    arq = _profile_arq(
        client, {"resources:FPGA": "1", key: new if key == "accel:bitstream_id" else "nlb0"}
    )
    instance = str(uuid.uuid4())
    _bind(client, arq, fpga["rp_uuid"], instance)
    waiting = _arq(client, arq)
    assert (waiting["state"], waiting["error"]) == ("BindStarted", None)
    assert _held(db) == 1  # the handle is the instance's while the FPGA loads
    ((kind, state, loaded),) = rollouts(db)
    assert (kind, state, loaded) == ("program", "running", new)
    with db.transaction() as s:
        rollout_uuid = s.scalar(sa.select(models.Rollout.uuid))
    engine.advance(rollout_uuid)
    finish(engine, agents.jobs[0])
    bound = _arq(client, arq)
    assert bound["state"] == "Bound"
    assert bound["attach_handle_type"] == "PCI"
    assert told == [{arq: (instance, "Bound")}]
    assert (
        client.simulate_get(f"/v2/deployables/{fpga['deployable_uuid']}").json["bitstream_id"]
        == new
    )


def test_bind_fails_when_the_load_fails_and_says_why_from_2_5(
    client, db, fpga, engine, agents, told
):
    new = image(db)
    arq = _profile_arq(client, {"resources:FPGA": "1", "accel:bitstream_id": new})
    instance = str(uuid.uuid4())
    _bind(client, arq, fpga["rp_uuid"], instance)
    with db.transaction() as s:
        rollout_uuid = s.scalar(sa.select(models.Rollout.uuid))
    engine.advance(rollout_uuid)
    finish(engine, agents.jobs[0], ok=False)
    failed = _arq(client, arq)
    assert failed["state"] == "BindFailed"
    assert failed["error"] == (
        "Loading the bitstream for this request failed (hw-error): fpgaconf failed (1): "
        "PR region busy"
    )
    assert "error" not in _arq(client, arq, headers=V24)
    assert _held(db) == 0
    assert told == [{arq: (instance, "BindFailed")}]


def test_bind_of_an_fpga_already_running_the_bitstream_binds_at_once(client, db, fpga, told):
    running = image(db, version=AFU_OLD)
    arq = _profile_arq(client, {"resources:FPGA": "1", "accel:bitstream_id": running})
    _bind(client, arq, fpga["rp_uuid"], str(uuid.uuid4()))
    assert _arq(client, arq)["state"] == "Bound"
    assert rollouts(db) == []


def test_bind_with_a_bitstream_not_in_the_catalog_fails_with_the_reason(client, db, fpga):
    missing = str(uuid.uuid4())
    arq = _profile_arq(client, {"resources:FPGA": "1", "accel:bitstream_id": missing})
    _bind(client, arq, fpga["rp_uuid"], str(uuid.uuid4()))
    failed = _arq(client, arq)
    assert failed["state"] == "BindFailed"
    assert failed["error"] == (
        "Cannot load the bitstream the profile asks for: Cannot program: no firmware image "
        f"with uuid={missing} is in the catalog."
    )
    assert _held(db) == 0
    assert rollouts(db) == []


def test_bind_with_an_unknown_function_fails_with_the_reason(client, db, fpga):
    image(db, function_id="nlb0")
    arq = _profile_arq(client, {"resources:FPGA": "1", "accel:function_id": "dma9"})
    _bind(client, arq, fpga["rp_uuid"], str(uuid.uuid4()))
    failed = _arq(client, arq)
    assert failed["state"] == "BindFailed"
    assert "No active bitstream image provides function dma9" in failed["error"]
