"""Reconciling reports into SQL on every backend: rows, no-op reports, held devices,
liveness, report order, and two conductors at once."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from cyborg_lite.conductor import inventory
from cyborg_lite.db import hosts as db_hosts
from cyborg_lite.db import models
from cyborg_lite.db.engine import Database
from tests.unit.test_reconcile_diff import device_dict

T0 = dt.datetime(2026, 11, 23, 12, 0, 0)


def report(host="compute1", devices=None, errors=(), digest=None, seq=None):
    devices = [device_dict("gpu-1")] if devices is None else devices
    out = {
        "host": host,
        "agent_version": "0.1.0",
        "digest": digest or uuid.uuid4().hex,
        "devices": devices,
        "driver_errors": [{"driver": d, "error": "boom"} for d in errors],
    }
    if seq is not None:
        out["seq"] = seq
    return out


def rows(db, model, **where):
    with db.transaction() as s:
        return list(s.scalars(sa.select(model).filter_by(**where)))


def count(db, model):
    with db.transaction() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


class Writes:
    """Records the INSERT, UPDATE and DELETE statements sent on an engine."""

    def __init__(self, engine):
        self.engine = engine
        self.statements = []

    def _record(self, conn, cursor, statement, *args):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.statements.append(" ".join(statement.split()))

    def tables(self):
        """The table each statement wrote, in order."""
        return [
            re.match(r"(?:UPDATE|INSERT INTO|DELETE FROM) (\w+)", s)[1] for s in self.statements
        ]

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)


def hold(db, device_stable_id):
    """Make an ARQ hold the device's first attach handle."""
    with db.transaction() as s:
        dev = s.scalar(sa.select(models.Device).filter_by(stable_id=device_stable_id))
        handle = s.scalar(
            sa.select(models.AttachHandle)
            .join(models.Deployable)
            .where(models.Deployable.device_id == dev.id)
        )
        profile = models.DeviceProfile(name=f"p-{uuid.uuid4().hex[:6]}", groups="[]")
        s.add(profile)
        s.flush()
        arq = models.AcceleratorRequest(
            device_profile_id=profile.id,
            device_profile_group_id=0,
            attach_handle_id=handle.id,
            state="Bound",
        )
        s.add(arq)
        s.flush()
        return arq.id, handle.id


def test_first_report_creates_the_inventory(db):
    out = inventory.receive_report(db, report(), T0)
    assert out.applied
    assert [e[0] for e in out.events] == ["host.up", "device.added"]
    (host,) = rows(db, models.Host)
    assert (host.hostname, host.state, host.last_heartbeat) == ("compute1", "up", T0)
    (dev,) = rows(db, models.Device)
    assert (dev.hostname, dev.stable_id, dev.driver_name, dev.missing) == (
        "compute1",
        "gpu-1",
        "nvidia",
        False,
    )
    assert json.loads(dev.std_board_info) == {"product_id": "2330", "controller": "3D controller"}
    (dep,) = rows(db, models.Deployable)
    assert dep.name == "compute1_dep-gpu-1"
    assert dep.rp_uuid == str(uuid.uuid3(uuid.NAMESPACE_DNS, "compute1_dep-gpu-1"))
    attrs = {a.key: a.value for a in rows(db, models.Attribute)}
    assert attrs == {"rc": "PGPU", "trait0": "OWNER_CYBORG", "trait1": "CUSTOM_NVIDIA_2330"}
    (handle,) = rows(db, models.AttachHandle)
    (cpid,) = rows(db, models.ControlpathId)
    assert json.loads(handle.attach_info) == {
        "domain": "0000",
        "bus": "3b",
        "device": "00",
        "function": "0",
    }
    assert handle.cpid_id == cpid.id
    firmware = {f.component: (f.version, f.updatable) for f in rows(db, models.FirmwareComponent)}
    assert firmware == {"vbios": ("1.0", True), "inforom": ("G1", False)}


def test_unchanged_report_writes_only_the_heartbeat(db):
    r = report()
    inventory.receive_report(db, r, T0)
    with Writes(db.engine) as writes:
        out = inventory.receive_report(db, r, T0 + dt.timedelta(seconds=5))
    assert not out.applied
    assert out.events == []
    assert writes.tables() == ["hosts"]
    assert "last_heartbeat" in writes.statements[0]


def test_new_digest_same_inventory_writes_no_device_rows(db):
    inventory.receive_report(db, report(digest="d1"), T0)
    with Writes(db.engine) as writes:
        out = inventory.receive_report(db, report(digest="d2"), T0)
    assert out.applied
    assert not any(
        s.split()[1 if s.startswith("UPDATE") else 2] != "hosts" for s in writes.statements
    )


def test_firmware_change_updates_one_row_and_bumps_generation(db):
    inventory.receive_report(db, report(), T0)
    (before,) = rows(db, models.Device)
    out = inventory.receive_report(db, report(devices=[device_dict("gpu-1", vbios="2.0")]), T0)
    assert out.events[0][0] == "device.changed"
    assert out.events[0][1]["changed"] == ["firmware"]
    (after,) = rows(db, models.Device)
    assert (after.uuid, after.generation) == (before.uuid, before.generation + 1)
    versions = {f.component: f.version for f in rows(db, models.FirmwareComponent)}
    assert versions == {"vbios": "2.0", "inforom": "G1"}


def test_vanished_device_is_deleted_with_everything_under_it(db):
    two = [device_dict("gpu-1"), device_dict("gpu-2", pci="0000:5e:00.0")]
    inventory.receive_report(db, report(devices=two), T0)
    out = inventory.receive_report(db, report(devices=two[:1]), T0)
    assert [e[0] for e in out.events] == ["device.removed"]
    assert out.events[0][1]["stable_id"] == "gpu-2"
    assert [d.stable_id for d in rows(db, models.Device)] == ["gpu-1"]
    for model in (models.Deployable, models.AttachHandle, models.ControlpathId):
        assert count(db, model) == 1
    assert count(db, models.FirmwareComponent) == 2


def test_held_device_is_kept_missing_until_released(db):
    two = [device_dict("gpu-1"), device_dict("gpu-2", pci="0000:5e:00.0")]
    inventory.receive_report(db, report(devices=two), T0)
    arq_id, handle_id = hold(db, "gpu-2")
    out = inventory.receive_report(db, report(devices=two[:1]), T0)
    assert out.events == [("device.changed", out.events[0][1])]
    assert out.events[0][1]["changed"] == ["missing"]
    kept = {d.stable_id: d.missing for d in rows(db, models.Device)}
    assert kept == {"gpu-1": False, "gpu-2": True}
    (arq,) = rows(db, models.AcceleratorRequest)
    assert arq.attach_handle_id == handle_id  # the handle survived
    assert inventory.purge_released(db) == []  # still held
    with db.transaction() as s:
        s.execute(sa.update(models.AcceleratorRequest).values(attach_handle_id=None))
    events = inventory.purge_released(db)
    assert [(e[0], e[1]["stable_id"]) for e in events] == [("device.removed", "gpu-2")]
    assert [d.stable_id for d in rows(db, models.Device)] == ["gpu-1"]
    assert arq_id


def test_device_claimed_after_the_snapshot_is_not_deleted(db):
    from cyborg_lite import exception
    from cyborg_lite.conductor import reconcile
    from cyborg_lite.db import inventory as db_inventory

    inventory.receive_report(db, report(), T0)
    with db.transaction() as s:
        snapshot = db_inventory.load(s, "compute1")
    changes = reconcile.diff(snapshot.known, {})
    assert changes.removed == ("gpu-1",)
    hold(db, "gpu-1")  # an ARQ binds between the snapshot and the delete
    with pytest.raises(exception.ConcurrentUpdate), db.transaction() as s:
        db_inventory.apply(s, snapshot, changes)
    # The retry the workflow makes sees the ARQ and flags the device instead.
    out = inventory.receive_report(db, report(devices=[]), T0)
    assert out.events[0][1]["changed"] == ["missing"]
    assert rows(db, models.Device)[0].missing


def test_held_device_that_returns_is_unflagged(db):
    inventory.receive_report(db, report(), T0)
    hold(db, "gpu-1")
    inventory.receive_report(db, report(devices=[]), T0)
    assert rows(db, models.Device)[0].missing
    out = inventory.receive_report(db, report(), T0)
    assert out.events[0][1]["changed"] == ["returned"]
    assert not rows(db, models.Device)[0].missing


def test_failed_driver_keeps_its_devices(db):
    inventory.receive_report(db, report(), T0)
    out = inventory.receive_report(db, report(devices=[], errors=["nvidia"]), T0)
    assert out.applied
    assert [d.stable_id for d in rows(db, models.Device)] == ["gpu-1"]
    (host,) = rows(db, models.Host)
    assert json.loads(host.driver_errors) == [{"driver": "nvidia", "error": "boom"}]


def test_malformed_report_is_invalid_and_writes_nothing(db):
    from cyborg_lite import exception

    with pytest.raises(exception.Invalid, match="Malformed"):
        inventory.receive_report(db, report(devices=[{"stable_id": "x"}]), T0)
    assert count(db, models.Host) == 0


def test_duplicate_deployable_names_are_invalid(db):
    from cyborg_lite import exception

    twins = [device_dict("gpu-1"), device_dict("gpu-2", pci="0000:5e:00.0")]
    twins[1]["deployables"][0]["name"] = twins[0]["deployables"][0]["name"]
    with pytest.raises(exception.Invalid, match="deployable twice"):
        inventory.receive_report(db, report(devices=twins), T0)


def test_heartbeat_asks_for_a_report_when_the_digest_is_unknown(db):
    assert inventory.receive_heartbeat(db, "compute1", "0.1.0", "d1", T0) == (True, [])
    inventory.receive_report(db, report(digest="d1"), T0)
    assert inventory.receive_heartbeat(db, "compute1", "0.1.0", "d1", T0) == (False, [])
    assert inventory.receive_heartbeat(db, "compute1", "0.1.0", "other", T0)[0] is True


def test_silent_host_goes_down_once_and_comes_back(db):
    inventory.receive_report(db, report(digest="d1"), T0)
    assert inventory.mark_silent_hosts_down(db, T0 + dt.timedelta(seconds=30), 60) == []
    later = T0 + dt.timedelta(seconds=61)
    assert inventory.mark_silent_hosts_down(db, later, 60) == [
        ("host.down", {"hostname": "compute1"})
    ]
    assert inventory.mark_silent_hosts_down(db, later, 60) == []
    assert rows(db, models.Host)[0].state == "down"
    assert count(db, models.Device) == 1  # flagged by the host state, not deleted
    wanted, events = inventory.receive_heartbeat(db, "compute1", "0.1.0", "d1", later)
    assert (wanted, events) == (False, [("host.up", {"hostname": "compute1", "new": False})])
    assert rows(db, models.Host)[0].state == "up"


def vbios(version):
    return [device_dict("gpu-1", vbios=version)]


def inventory_state(db):
    """Everything a report may write, to compare before and after."""
    with db.transaction() as s:
        hosts = s.execute(sa.select(models.Host.__table__)).all()
        devices = s.execute(sa.select(models.Device.__table__)).all()
        firmware = s.execute(sa.select(models.FirmwareComponent.__table__)).all()
    return hosts, devices, firmware


def vbios_version(db):
    return {f.component: f.version for f in rows(db, models.FirmwareComponent)}["vbios"]


def test_stale_report_writes_nothing(db):
    inventory.receive_report(db, report(devices=vbios("1.0"), seq=5), T0)
    inventory.receive_report(db, report(devices=vbios("2.0"), seq=6), T0)
    before = inventory_state(db)
    with Writes(db.engine) as writes:
        out = inventory.receive_report(
            db, report(devices=vbios("1.0"), seq=5), T0 + dt.timedelta(seconds=5)
        )
    assert (out.applied, out.stale, out.newer_seq, out.events) == (False, True, 6, [])
    # Only the compare-and-set, which matched no row; not even the heartbeat moved.
    assert writes.tables() == ["hosts"]
    assert "report_seq" in writes.statements[0]
    assert inventory_state(db) == before
    assert vbios_version(db) == "2.0"


def test_reports_apply_in_seq_order_whatever_order_they_arrive_in(db):
    gen1, gen2 = 1 << 32, 2 << 32
    # A restarted agent's first report (generation 2) arrives before its last of generation 1.
    assert inventory.receive_report(db, report(devices=vbios("3.0"), seq=gen2 + 1), T0).applied
    late = inventory.receive_report(db, report(devices=vbios("2.0"), seq=gen1 + 40), T0)
    assert late.newer_seq == gen2 + 1
    assert vbios_version(db) == "3.0"
    # A newer report with the inventory SQL already holds still moves the order on.
    held = rows(db, models.Host)[0].report_digest
    out = inventory.receive_report(db, report(devices=vbios("3.0"), digest=held, seq=gen2 + 2), T0)
    assert (out.applied, out.stale) == (False, False)
    assert rows(db, models.Host)[0].report_seq == gen2 + 2
    assert inventory.receive_report(db, report(devices=vbios("2.0"), seq=gen2 + 1), T0).stale
    assert inventory.receive_report(db, report(devices=vbios("4.0"), seq=gen2 + 3), T0).applied
    assert vbios_version(db) == "4.0"
    assert rows(db, models.Host)[0].report_seq == gen2 + 3


def test_same_seq_twice_is_a_duplicate_unless_the_digest_differs(db):
    r = report(seq=9)
    assert inventory.receive_report(db, r, T0).applied
    later = T0 + dt.timedelta(seconds=5)
    again = inventory.receive_report(db, r, later)
    assert (again.applied, again.stale) == (False, False)
    assert rows(db, models.Host)[0].last_heartbeat == later  # as a duplicate always did
    other = inventory.receive_report(db, report(devices=vbios("2.0"), seq=9), later)
    assert other.newer_seq == 9
    assert vbios_version(db) == "1.0"


def test_reports_without_seq_apply_as_before_and_keep_the_order(db):
    inventory.receive_report(db, report(devices=vbios("1.0")), T0)
    assert rows(db, models.Host)[0].report_seq is None
    inventory.receive_report(db, report(devices=vbios("2.0"), seq=7), T0)
    # An agent from before seq (a downgrade): applied, and the order seen so far is kept.
    assert inventory.receive_report(db, report(devices=vbios("3.0")), T0).applied
    assert rows(db, models.Host)[0].report_seq == 7
    assert inventory.receive_report(db, report(devices=vbios("2.0"), seq=7), T0).stale
    assert vbios_version(db) == "3.0"


@pytest.mark.parametrize("seq", ["5", -1, 2**63, 1.5, True, [1]])
def test_malformed_seq_is_invalid_and_writes_nothing(db, seq):
    from cyborg_lite import exception

    with pytest.raises(exception.Invalid, match="seq must be an integer"):
        inventory.receive_report(db, report(seq=seq), T0)
    assert count(db, models.Host) == 0


def test_storing_a_report_never_lowers_the_seq(db):
    # The last guard, for a new host's first report that found the row inserted meanwhile.
    inventory.receive_report(db, report(seq=5), T0)
    with db.transaction() as s:
        assert not db_hosts.set_report(s, "compute1", "d-old", [], seq=4)
        assert db_hosts.set_report(s, "compute1", "d-same", [], seq=5)
        assert db_hosts.set_report(s, "compute1", "d-unordered", [])
    (host,) = rows(db, models.Host)
    assert (host.report_seq, host.report_digest) == (5, "d-unordered")


def test_largest_seq_fits(db):
    assert inventory.receive_report(db, report(seq=2**63 - 1), T0).applied
    assert rows(db, models.Host)[0].report_seq == 2**63 - 1


def run_together(n, fn):
    """Run ``fn(i)`` in ``n`` threads released at once; return results (or raise the first)."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def two_conductors(db):
    """Two independent engines (as two conductor processes would have) on the test database."""
    other = Database(db.url)
    yield [db, other]
    other.dispose()


def test_two_conductors_apply_the_same_report_once(two_conductors):
    devices = [device_dict(f"gpu-{i}", pci=f"0000:{0x10 + i:02x}:00.0") for i in range(4)]
    r = report(devices=devices)
    outcomes = run_together(2, lambda i: inventory.receive_report(two_conductors[i], r, T0))
    assert sorted(o.applied for o in outcomes) == [False, True]
    added = [e for o in outcomes for e in o.events if e[0] == "device.added"]
    assert len(added) == 4  # notified once, by the conductor that applied it
    db = two_conductors[0]
    assert count(db, models.Host) == 1
    assert count(db, models.Device) == 4
    assert count(db, models.Deployable) == 4
    assert count(db, models.FirmwareComponent) == 8


def test_two_conductors_apply_successive_reports_without_loss(two_conductors):
    inventory.receive_report(two_conductors[0], report(digest="d0"), T0)
    reports = [
        report(devices=[device_dict("gpu-1", vbios="2.0")], digest="d1"),
        report(devices=[device_dict("gpu-1", vbios="2.0")], digest="d1"),
    ]
    outcomes = run_together(
        2, lambda i: inventory.receive_report(two_conductors[i], reports[i], T0)
    )
    assert sum(o.applied for o in outcomes) == 1
    db = two_conductors[0]
    assert {f.component: f.version for f in rows(db, models.FirmwareComponent)}["vbios"] == "2.0"
    assert rows(db, models.Device)[0].generation == 1


def test_two_conductors_mark_a_host_down_once(two_conductors):
    inventory.receive_report(two_conductors[0], report(), T0)
    later = T0 + dt.timedelta(seconds=120)
    results = run_together(
        2, lambda i: inventory.mark_silent_hosts_down(two_conductors[i], later, 60)
    )
    assert sorted(len(r) for r in results) == [0, 1]


@pytest.mark.parametrize("known", [True, False], ids=["known-host", "new-host"])
def test_two_conductors_keep_the_newer_of_two_racing_reports(two_conductors, known):
    # Each round is a fresh host; the interleavings that matter come up in some rounds only.
    for round_ in range(8):
        host = f"race{round_}"
        if known:
            inventory.receive_report(two_conductors[0], report(host, vbios("1.0"), seq=1), T0)
        racing = [report(host, vbios("2.0"), seq=2), report(host, vbios("3.0"), seq=3)]
        if round_ % 2:
            racing.reverse()
        outcomes = run_together(
            2, lambda i, racing=racing: inventory.receive_report(two_conductors[i], racing[i], T0)
        )
        assert sum(o.applied for o in outcomes) in (1, 2)  # 2 only when seq 2 went first
        db = two_conductors[0]
        (host_row,) = rows(db, models.Host, hostname=host)
        assert host_row.report_seq == 3
        (device,) = rows(db, models.Device, hostname=host)
        (fw,) = [
            f
            for f in rows(db, models.FirmwareComponent, device_id=device.id)
            if f.component == "vbios"
        ]
        assert fw.version == "3.0"
