"""Lending's SQL on every backend (issue 17): pools and their membership, windows, the offer
flags and facts, loans with their filters, moves and energy, and the account."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from cyborg_lite import exception
from cyborg_lite.db import lending_devices, lending_summary, lending_windows, models
from cyborg_lite.db import loans as db_loans
from cyborg_lite.db import pools as db_pools
from cyborg_lite.lending import pools as lending_pools
from cyborg_lite.lending import windows
from tests import seed

T0 = dt.datetime(2026, 3, 2, 12, 0, 0)


def devices(db, n, hostname="compute1", model="NVIDIA H100 80GB HBM3"):
    return [
        seed.device(db, hostname=hostname, model=model, pci=f"0000:{10 + i:02x}:00.0")
        for i in range(n)
    ]


def make_pool(db, name="team-a", selector=None, owner="owner-p", **fields):
    with db.transaction() as s:
        pool = db_pools.create(
            s,
            lending_pools.parse({"name": name, **fields}),
            owner_project_id=owner,
            selector=selector or {"hosts": ("compute1",)},
        )
        return pool.uuid, pool.id


def test_create_resolves_members_and_reads_back_rules(db):
    made = devices(db, 2) + devices(db, 1, hostname="compute2")
    uuid, pool_id = make_pool(db, reserve={"share": 0.5}, borrower_project_ids=["b1"])
    with db.transaction() as s:
        pool = db_pools.get(s, uuid)
        assert db_pools.members(s, pool_id) == sorted(d["device_uuid"] for d in made[:2])
        rules = db_pools.rules(pool)
        assert rules.reserve.share == 0.5
        assert rules.borrower_project_ids == ("b1",)
        assert pool.trait == "CUSTOM_CYBORG_POOL_TEAM_A"
        assert db_pools.selector_of(pool) == {"hosts": ("compute1",)}


def test_a_device_of_another_pool_is_a_conflict_naming_both(db):
    [dev] = devices(db, 1)
    first, _ = make_pool(db, name="first")
    with pytest.raises(exception.Conflict) as err:
        make_pool(db, name="second", selector={"device_uuids": (dev["device_uuid"],)})
    assert dev["device_uuid"] in str(err.value)
    assert "first" in str(err.value)
    assert first in str(err.value)


def test_a_taken_name_or_trait_is_a_conflict(db):
    make_pool(db, name="team-a", selector={"hosts": ("nowhere",)})
    with pytest.raises(exception.Conflict, match="TEAM_A"):
        make_pool(db, name="TEAM_A", selector={"hosts": ("nowhere",)})


def test_update_re_resolves_membership_and_bumps_generation(db):
    a = devices(db, 2)
    b = devices(db, 1, hostname="compute2")
    uuid, pool_id = make_pool(db)
    with db.transaction() as s:
        lending_devices.set_offered(s, pool_id, [a[0]["device_uuid"]])
    with db.transaction() as s:
        pool = db_pools.get(s, uuid)
        before = pool.generation
        rules = lending_pools.update(db_pools.rules(pool), {"notice_seconds": 5})
        db_pools.update(
            s, pool, rules, selector={"device_uuids": (a[0]["device_uuid"], b[0]["device_uuid"])}
        )
        assert pool.generation == before + 1
        assert pool.notice_seconds == 5
    with db.transaction() as s:
        assert db_pools.members(s, pool_id) == sorted([a[0]["device_uuid"], b[0]["device_uuid"]])
        # The device that stayed kept its offer.
        assert lending_devices.offered(s, pool_id) == [a[0]["device_uuid"]]


def test_update_refuses_a_device_of_another_pool_and_a_stale_generation(db):
    a = devices(db, 1)
    b = devices(db, 1, hostname="compute2")
    uuid, _ = make_pool(db)
    make_pool(db, name="other", selector={"hosts": ("compute2",)})
    with db.transaction() as s:
        pool = db_pools.get(s, uuid)
        with pytest.raises(exception.Conflict, match=b[0]["device_uuid"]):
            db_pools.update(s, pool, db_pools.rules(pool), selector={"hosts": ("compute2",)})
    with db.transaction() as s:
        pool = db_pools.get(s, uuid)
        # Another writer's update after ``pool`` was read (the object keeps what it read).
        s.execute(
            sa.update(models.AcceleratorPool)
            .where(models.AcceleratorPool.uuid == uuid)
            .values(generation=models.AcceleratorPool.generation + 1)
            .execution_options(synchronize_session=False)
        )
        with pytest.raises(exception.ConcurrentUpdate):
            db_pools.update(s, pool, db_pools.rules(pool))
    with db.transaction() as s:
        assert db_pools.members(s, db_pools.get(s, uuid).id) == [a[0]["device_uuid"]]


def test_list_filters_visibility_and_paging(db):
    uuids = [make_pool(db, name=f"p{i}", selector={"hosts": ("x",)})[0] for i in range(3)]
    mine, _ = make_pool(db, name="mine", owner="other-p", selector={"hosts": ("x",)})
    with db.transaction() as s:
        assert [p.uuid for p in db_pools.list_pools(s, {}, limit=2)] == uuids[:2]
        page = db_pools.list_pools(s, {}, limit=2, marker=uuids[1])
        assert [p.uuid for p in page] == [uuids[2], mine]
        assert [p.uuid for p in db_pools.list_pools(s, {"name": "p1"})] == [uuids[1]]
        assert [p.uuid for p in db_pools.list_pools(s, {"owner_project_id": "other-p"})] == [mine]
        assert [p.uuid for p in db_pools.list_pools(s, {}, project_id="other-p")] == [mine]
        with pytest.raises(exception.NotFound):
            db_pools.get(s, uuids[0], project_id="other-p")
        with pytest.raises(exception.Invalid):
            db_pools.list_pools(s, {}, marker="no-such")


def _loan(s, pool_uuid, device_uuid, arq="arq-1", borrower="b1", started=T0, **kw):
    return db_loans.open_loan(
        s,
        pool_uuid=pool_uuid,
        device_uuid=device_uuid,
        owner_project_id=kw.get("owner", "owner-p"),
        borrower_project_id=borrower,
        arq_uuid=arq,
        instance_uuid="inst",
        started_at=started,
    )


def test_delete_is_refused_while_loans_are_open(db):
    [dev] = devices(db, 1)
    uuid, pool_id = make_pool(db)
    with db.transaction() as s:
        loan = _loan(s, uuid, dev["device_uuid"]).uuid
        lending_windows.add(
            s, pool_id, windows.parse({"days": ["mon"], "start": "19:00", "end": "07:00"})
        )
    with db.transaction() as s, pytest.raises(exception.Conflict, match=loan):
        db_pools.delete(s, db_pools.get(s, uuid))
    with db.transaction() as s:
        assert db_loans.close(s, loan, ended_at=T0, energy_kwh=None)
        assert not db_loans.close(s, loan, ended_at=T0, energy_kwh=None)  # once only
    with db.transaction() as s:
        db_pools.delete(s, db_pools.get(s, uuid))
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(models.PoolDevice)) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(models.PoolWindow)) == 0
        with pytest.raises(exception.NotFound):
            db_pools.get(s, uuid)


def test_windows_add_list_delete(db):
    _, pool_id = make_pool(db, selector={"hosts": ("x",)})
    weekly = windows.parse({"days": ["mon", "fri"], "start": "19:00", "end": "07:00"})
    once = windows.parse(
        {"starts_at": "2026-03-28T19:00:00+01:00", "ends_at": "2026-03-29T07:00:00+02:00"}
    )
    with db.transaction() as s:
        w1 = lending_windows.add(s, pool_id, weekly).uuid
        w2 = lending_windows.add(s, pool_id, once)
        assert w2.kind == "once"
    with db.transaction() as s:
        stored = lending_windows.list_windows(s, pool_id)
        assert [w.window for w in stored] == [weekly, once]
        assert lending_windows.of_pools(s, [pool_id])[pool_id] == stored
        lending_windows.delete(s, pool_id, w1)
        with pytest.raises(exception.NotFound):
            lending_windows.delete(s, pool_id, w1)
        assert [w.uuid for w in lending_windows.list_windows(s, pool_id)] == [w2.uuid]


def test_device_facts_and_offer_flags(db):
    a, b, c = devices(db, 3)
    seed.device(db, hostname="compute9", pci="0000:99:00.0")  # outside the pool
    uuid, pool_id = make_pool(db)
    with db.transaction() as s:
        s.add(
            models.DeviceUsage(device_id=a["device_id"], sampled_at=T0, idle_since=T0, last_busy=T0)
        )
        s.execute(
            sa.update(models.Device)
            .where(models.Device.id == b["device_id"])
            .values(status="maintaining")
        )
        # c is bound by an ARQ holding its handle, and on loan.
        handle = s.scalar(
            sa.select(models.AttachHandle.id).where(
                models.AttachHandle.deployable_id == c["deployable_id"]
            )
        )
        profile = models.DeviceProfile(name="p", groups="[]")
        s.add(profile)
        s.flush()
        s.add(
            models.AcceleratorRequest(
                device_profile_id=profile.id,
                device_profile_group_id=0,
                state="Bound",
                attach_handle_id=handle,
            )
        )
        _loan(s, uuid, c["device_uuid"])
    with db.transaction() as s:
        facts = {f.uuid: f for f in lending_devices.device_facts(s, pool_id)}
    assert set(facts) == {a["device_uuid"], b["device_uuid"], c["device_uuid"]}
    assert facts[a["device_uuid"]].idle_since == T0.replace(tzinfo=dt.UTC)
    assert facts[a["device_uuid"]].usable
    assert not facts[a["device_uuid"]].bound
    assert not facts[b["device_uuid"]].usable
    assert facts[c["device_uuid"]].bound
    assert facts[c["device_uuid"]].on_loan
    with db.transaction() as s:
        new, gone = lending_devices.set_offered(s, pool_id, [a["device_uuid"], b["device_uuid"]])
        assert new == sorted([a["device_uuid"], b["device_uuid"]])
        assert gone == []
        assert lending_devices.set_offered(s, pool_id, [a["device_uuid"], b["device_uuid"]]) == (
            [],
            [],
        )
        assert lending_devices.set_offered(s, pool_id, [a["device_uuid"]]) == (
            [],
            [b["device_uuid"]],
        )
        pooled = lending_devices.pooled_by_rp(s, [a["rp_uuid"], b["rp_uuid"], "other"])
        assert pooled[a["rp_uuid"]].offered
        assert not pooled[b["rp_uuid"]].offered
        assert pooled[a["rp_uuid"]].owner_project_id == "owner-p"
        assert "other" not in pooled
        assert lending_devices.lock_offer(s, a["device_id"])
        assert lending_devices.clear_offers(s, pool_id) == [a["device_uuid"]]
        assert lending_devices.offered(s, pool_id) == []


def test_loan_list_filters_overlap_and_paging(db):
    with db.transaction() as s:
        l1 = _loan(s, "pool-1", "d1", arq="a1", borrower="b1", started=T0)
        l2 = _loan(s, "pool-1", "d2", arq="a2", borrower="b2", started=T0 + dt.timedelta(hours=2))
        l3 = _loan(s, "pool-2", "d3", arq="a3", borrower="b1", started=T0, owner="o2")
        db_loans.close(s, l1.uuid, ended_at=T0 + dt.timedelta(hours=1), energy_kwh=0.5)
        ids = [l1.uuid, l2.uuid, l3.uuid]
    with db.transaction() as s:

        def uuids(filters, **kw):
            return [x.uuid for x in db_loans.list_loans(s, filters, **kw)]

        assert uuids({}) == ids
        assert uuids({"pool_uuid": "pool-1"}) == ids[:2]
        assert uuids({"borrower_project_id": "b1"}) == [ids[0], ids[2]]
        assert uuids({"owner_project_id": "o2"}) == [ids[2]]
        assert uuids({"state": "closed"}) == [ids[0]]
        # Overlapping [T0+1h30, T0+3h): l1 ended before it, l2 and l3 (open) overlap.
        period = {"since": T0 + dt.timedelta(minutes=90), "until": T0 + dt.timedelta(hours=3)}
        assert uuids(period) == ids[1:]
        assert uuids({"until": T0 + dt.timedelta(hours=1)}) == [ids[0], ids[2]]
        assert uuids({}, limit=1, marker=ids[0]) == [ids[1]]
        assert uuids({}, project_id="b2") == [ids[1]]
        with pytest.raises(exception.NotFound):
            db_loans.get(s, ids[0], project_id="b2")
        assert db_loans.get(s, ids[0], project_id="owner-p").energy_kwh == 0.5


def test_loan_moves_and_engine_reads(db):
    with db.transaction() as s:
        a = _loan(s, "pool-1", "d1", arq="gone-arq").uuid
        b = _loan(s, "pool-1", "d2", arq="gone-too").uuid
    deadline = T0 + dt.timedelta(minutes=10)
    with db.transaction() as s:
        assert db_loans.start_reclaim(s, "pool-1", deadline, device_uuids=["d1"]) == [a]
        assert db_loans.start_reclaim(s, "pool-1", deadline, device_uuids=["d1"]) == []
        assert [x.uuid for x in db_loans.past_deadline(s, deadline - dt.timedelta(seconds=1))] == []
        assert [x.uuid for x in db_loans.past_deadline(s, deadline)] == [a]
        # No ARQ holds either device: both are the engine's to close.
        assert [x.uuid for x in db_loans.to_close(s, "pool-1")] == [a, b]
        facts = {f.uuid: f for f in db_loans.loan_facts(s, "pool-1")}
        assert facts[a].state == "reclaiming"
        assert not facts[a].arq_bound
        assert facts[a].reclaim_deadline == deadline.replace(tzinfo=dt.UTC)


def test_energy_from_rollups_clipped_and_unknown(db):
    [dev] = devices(db, 1)
    with db.transaction() as s:
        for i in range(3):  # 3 hourly rollups at 360 W, the middle one of unknown power
            s.add(
                models.UsageRollup(
                    device_id=dev["device_id"],
                    resolution_seconds=3600,
                    start=T0 + dt.timedelta(hours=i),
                    samples=1,
                    power_watts=None if i == 1 else 360.0,
                )
            )
    with db.transaction() as s:
        # From T0+30min to T0+2h30: 30 min at 360 W, an unknown hour, 30 min at 360 W.
        kwh = db_loans.energy(
            s, dev["device_uuid"], T0 + dt.timedelta(minutes=30), T0 + dt.timedelta(minutes=150)
        )
        assert kwh == pytest.approx(0.36)
        assert (
            db_loans.energy(
                s, dev["device_uuid"], T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)
            )
            is None
        )
        assert db_loans.energy(s, "no-device", T0, T0 + dt.timedelta(hours=1)) is None


def test_summary_groups_clips_and_keeps_unknown_energy_null(db):
    [dev] = devices(db, 1, model="M1")
    now = T0 + dt.timedelta(hours=10)
    with db.transaction() as s:
        l1 = _loan(s, "pool-1", dev["device_uuid"], arq="a1", borrower="b1", started=T0)
        db_loans.close(s, l1.uuid, ended_at=T0 + dt.timedelta(hours=2), energy_kwh=1.5)
        _loan(
            s,
            "pool-1",
            dev["device_uuid"],
            arq="a2",
            borrower="b1",
            started=T0 + dt.timedelta(hours=8),
        )
        _loan(
            s,
            "pool-2",
            "gone-device",
            arq="a3",
            borrower="b2",
            started=T0 - dt.timedelta(hours=5),
            owner="o2",
        )
    since, until = T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=12)

    def run(group_by, **kw):
        with db.transaction() as s:
            return lending_summary.summary(
                s, since=since, until=until, group_by=group_by, now=now, **kw
            )

    # l1 counts 1 h (clipped at since), l2 2 h (open, until now), l3 9 h (since to now).
    assert run("borrower") == [
        lending_summary.Group("b1", 2, 3 * 3600.0, 1.5),
        lending_summary.Group("b2", 1, 9 * 3600.0, None),
    ]
    assert run("owner") == [
        lending_summary.Group("o2", 1, 9 * 3600.0, None),
        lending_summary.Group("owner-p", 2, 3 * 3600.0, 1.5),
    ]
    assert [g.key for g in run("pool")] == ["pool-1", "pool-2"]
    assert run("model") == [
        lending_summary.Group("M1", 2, 3 * 3600.0, 1.5),
        lending_summary.Group(None, 1, 9 * 3600.0, None),
    ]
    assert run("borrower", project_id="b2") == [lending_summary.Group("b2", 1, 9 * 3600.0, None)]
    with pytest.raises(exception.Invalid):
        run("nobody")
