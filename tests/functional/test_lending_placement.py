"""Lending's traits in a real Placement (issue 17): a window opening puts
``CUSTOM_CYBORG_LENDABLE`` and the pool's trait on the offered devices' providers through the
engine's one-device sync, so a borrower's request for the trait finds exactly them in
``GET /allocation_candidates``; a reclaim takes the traits off at once, and no candidate
is left."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from cyborg_lite.conductor.lending import LendingEngine
from cyborg_lite.context import RequestContext
from cyborg_lite.db import models
from cyborg_lite.lending.pools import LENDABLE_TRAIT
from cyborg_lite.placement.sync import ProviderSync
from cyborg_lite.usecases import pools as pool_cases
from tests import placement_server
from tests.functional.test_lending_usecases import Recorder
from tests.functional.test_placement_sync import client_for, report, rp_uuid, traits_of
from tests.unit.test_reconcile_diff import device_dict

pytestmark = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)

NOW = dt.datetime(2026, 11, 23, 12, 0, 0)
OWNER = "owner-p"


@pytest.fixture
def host(placement_url):
    """A unique host with Nova's compute-node provider."""
    name = f"lend-{uuid.uuid4().hex[:8]}.example.org"
    status, body = placement_server.call(
        placement_url, "POST", "/resource_providers", {"name": name}
    )
    assert status == 200, body
    return name


def candidates(url, trait):
    status, body = placement_server.call(
        url,
        "GET",
        f"/allocation_candidates?resources1=PGPU:1&required1={trait}&group_policy=none",
    )
    assert status == 200, body
    return {rp for request in body["allocation_requests"] for rp in request["allocations"]}


def test_offers_reach_placement_and_a_reclaim_takes_them_off(db, placement_url, host):
    report(
        db,
        host,
        [device_dict("gpu-1"), device_dict("gpu-2", pci="0000:3c:00.0")],
    )
    client, _ = client_for(placement_url)
    sync = ProviderSync(db, client)
    assert sync.sync_host(host).complete
    rps = {rp_uuid(host, "gpu-1"), rp_uuid(host, "gpu-2")}
    with db.transaction() as s:
        for device_id in s.scalars(
            sa.select(models.Device.id).where(models.Device.hostname == host)
        ):
            s.add(
                models.DeviceUsage(
                    device_id=device_id,
                    sampled_at=NOW,
                    idle_since=NOW - dt.timedelta(hours=2),
                    last_busy=NOW - dt.timedelta(hours=2),
                )
            )
    cases = pool_cases.Pools(db, Recorder(), clock=lambda: NOW)
    ctx = RequestContext(project_id=OWNER)
    body = {"name": f"lab-{host[5:13]}", "selector": {"hosts": [host]}, "min_idle_seconds": 600}
    pool = cases.create(ctx, body, project_id=OWNER).pool
    window = {"starts_at": "2026-11-23T11:00:00+00:00", "ends_at": "2026-11-23T13:00:00+00:00"}
    cases.add_window(ctx, pool.uuid, window, project_id=OWNER)
    pool_trait = "CUSTOM_CYBORG_POOL_" + body["name"].upper().replace("-", "_")
    engine = LendingEngine(
        db,
        emit=lambda events: None,
        device_sync=sync,
        nova=None,
        retry_seconds=30.0,
        clock=lambda: NOW,
    )
    opened = engine.run_pass(pool.uuid)
    assert len(opened.offered) == 2
    for rp in rps:
        assert {LENDABLE_TRAIT, pool_trait, "OWNER_CYBORG"} <= traits_of(placement_url, rp)
    # (Placement is shared by the session: other hosts' providers are not this test's.)
    assert candidates(placement_url, LENDABLE_TRAIT) & rps == rps
    assert candidates(placement_url, pool_trait) == rps

    cases.reclaim(ctx, pool.uuid, None, project_id=OWNER)
    engine.run_pass(pool.uuid)
    for rp in rps:
        traits = traits_of(placement_url, rp)
        assert LENDABLE_TRAIT not in traits
        assert "OWNER_CYBORG" in traits  # the device's own traits stay
    assert candidates(placement_url, LENDABLE_TRAIT) & rps == set()
