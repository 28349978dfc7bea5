"""Reports reconciled into SQL, then into a real Placement: the provider tree, inventories,
traits (firmware included), drain and restore, drift repair, removal with and without
allocations, generation conflicts, and a Placement that is down."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from cyborg_lite.conductor import inventory
from cyborg_lite.db import engine as engine_mod
from cyborg_lite.placement.client import CONFLICT_ATTEMPTS, PlacementClient
from cyborg_lite.placement.sync import ProviderSync
from cyborg_lite.placement.worker import SyncWorker
from tests import placement_server
from tests.conftest import make_test_conf
from tests.unit.test_reconcile_diff import device_dict
from tests.waiting import wait_for

# The Placement logic does not depend on the SQL backend; SQLite keeps these tests quick.
pytestmark = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)

NOW = dt.datetime(2026, 11, 23, 12, 0, 0)


class Recording:
    """Wraps the keystoneauth1 adapter: records each request, and can run ``before_put``
    ahead of a PUT (to make another writer win the race)."""

    def __init__(self, inner, before_put=None):
        self.inner = inner
        self.requests = []
        self.in_transaction = []
        self.before_put = before_put

    def request(self, url, method, **kwargs):
        # The method, the URL, and whether this thread had a database transaction open.
        self.requests.append((method, url))
        self.in_transaction.append(engine_mod.in_transaction())
        if method == "PUT" and self.before_put is not None:
            self.before_put(url)
        return self.inner.request(url, method, **kwargs)

    def writes(self):
        return [r for r in self.requests if r[0] != "GET"]


def client_for(url, before_put=None):
    conf = placement_server.point_at(make_test_conf("/tmp/unused"), url)
    real = PlacementClient.from_conf(conf)
    recording = Recording(real._adapter, before_put)
    return PlacementClient(recording), recording


@pytest.fixture
def host(placement_url):
    """A unique host whose compute-node provider exists, as Nova would have made it."""
    name = f"compute-{uuid.uuid4().hex[:8]}.example.org"
    status, body = placement_server.call(
        placement_url, "POST", "/resource_providers", {"name": name}
    )
    assert status == 200, body
    root = body["uuid"]
    status, _ = placement_server.call(
        placement_url,
        "PUT",
        f"/resource_providers/{root}/traits",
        {"resource_provider_generation": body["generation"], "traits": ["COMPUTE_ACCELERATORS"]},
    )
    assert status == 200
    return name, root


@pytest.fixture
def sync(db, placement_url):
    client, recording = client_for(placement_url)
    made = ProviderSync(db, client)
    made.recording = recording
    return made


def report(db, host, devices):
    body = {"host": host, "agent_version": "t", "digest": uuid.uuid4().hex, "devices": devices}
    assert inventory.receive_report(db, body, NOW).applied


def rp_uuid(host, stable_id):
    return str(uuid.uuid3(uuid.NAMESPACE_DNS, f"{host}_dep-{stable_id}"))


def get(url, path):
    status, body = placement_server.call(url, "GET", path)
    assert status == 200, body
    return body


def inventory_of(url, rp):
    return get(url, f"/resource_providers/{rp}/inventories")["inventories"]


def traits_of(url, rp):
    return set(get(url, f"/resource_providers/{rp}/traits")["traits"])


def device_uuid(client_db, host, stable_id):
    from cyborg_lite.db import providers

    with client_db.transaction() as s:
        states = providers.of_host(s, host)
    return next(st.device_uuid for st in states if st.name == f"{host}_dep-{stable_id}")


def test_tree_inventory_and_traits(db, sync, host, placement_url):
    name, root = host
    report(db, name, [device_dict("gpu-1", vbios="96.00.89.00.01"), device_dict("gpu-2")])
    result = sync.sync_host(name)
    assert result.complete
    assert result.root == root
    assert sorted(result.created) == sorted([rp_uuid(name, "gpu-1"), rp_uuid(name, "gpu-2")])

    tree = get(placement_url, f"/resource_providers?in_tree={root}")["resource_providers"]
    children = {p["uuid"]: p for p in tree if p["uuid"] != root}
    assert set(children) == set(result.created)
    one = children[rp_uuid(name, "gpu-1")]
    assert one["name"] == f"{name}_dep-gpu-1"
    assert one["parent_provider_uuid"] == root
    inv = inventory_of(placement_url, one["uuid"])
    assert {k: inv["PGPU"][k] for k in ("total", "reserved", "max_unit")} == {
        "total": 1,
        "reserved": 0,
        "max_unit": 1,
    }
    assert traits_of(placement_url, one["uuid"]) == {
        "OWNER_CYBORG",
        "CUSTOM_NVIDIA_2330",
        "CUSTOM_FW_VBIOS_96_00_89_00_01",
        "CUSTOM_FW_INFOROM_G1",
    }
    # The compute-node provider is Nova's: untouched.
    assert inventory_of(placement_url, root) == {}
    assert traits_of(placement_url, root) == {"COMPUTE_ACCELERATORS"}


def test_an_unchanged_host_costs_no_write(db, sync, host):
    name, _ = host
    report(db, name, [device_dict("gpu-1")])
    sync.sync_host(name)
    sync.recording.requests.clear()
    again = sync.sync_host(name)
    assert again.complete
    assert not (again.created)
    assert not (again.updated)
    assert sync.recording.writes() == []
    assert len(sync.recording.requests) == 3  # the root, its tree, our providers in it


def test_new_firmware_version_replaces_its_trait(db, sync, host, placement_url):
    name, _ = host
    report(db, name, [device_dict("gpu-1", vbios="1.0")])
    sync.sync_host(name)
    report(db, name, [device_dict("gpu-1", vbios="2.0")])
    assert sync.sync_host(name).updated == [rp_uuid(name, "gpu-1")]
    traits = traits_of(placement_url, rp_uuid(name, "gpu-1"))
    assert "CUSTOM_FW_VBIOS_2_0" in traits
    assert "CUSTOM_FW_VBIOS_1_0" not in traits


def test_without_a_compute_node_provider_waits_for_it(db, sync, placement_url):
    name = f"nova-less-{uuid.uuid4().hex[:8]}"
    report(db, name, [device_dict("gpu-1")])
    result = sync.sync_host(name)
    assert result.root is None
    assert not result.created
    assert get(placement_url, f"/resource_providers?name={name}")["resource_providers"] == []

    placement_server.call(placement_url, "POST", "/resource_providers", {"name": name})
    assert sync.sync_host(name).created == [rp_uuid(name, "gpu-1")]


def test_create_compute_providers_makes_the_root(db, placement_url):
    name = f"standalone-{uuid.uuid4().hex[:8]}"
    report(db, name, [device_dict("gpu-1")])
    client, _ = client_for(placement_url)
    result = ProviderSync(db, client, create_roots=True).sync_host(name)
    assert result.complete
    assert result.created == [rp_uuid(name, "gpu-1")]
    assert traits_of(placement_url, result.root) == {"COMPUTE_ACCELERATORS"}


def test_drain_reserves_everything_and_restore_gives_it_back(db, sync, host, placement_url):
    name, _ = host
    report(db, name, [device_dict("gpu-1")])
    sync.sync_host(name)
    rp, dev = rp_uuid(name, "gpu-1"), device_uuid(db, name, "gpu-1")
    sync.drain(dev)
    assert inventory_of(placement_url, rp)["PGPU"]["reserved"] == 1
    sync.restore(dev)
    assert inventory_of(placement_url, rp)["PGPU"]["reserved"] == 0


def test_disable_and_enable_set_reserved(db, sync, host, placement_url, conf):
    import falcon.testing

    from cyborg_lite.api.app import create_app
    from tests.local_conductor import LocalConductor

    name, _ = host
    report(db, name, [device_dict("gpu-1")])
    sync.sync_host(name)
    rp, dev = rp_uuid(name, "gpu-1"), device_uuid(db, name, "gpu-1")
    # The API casts device_changed; the conductor syncs the device's providers.
    conductor = LocalConductor.for_conf(conf, db, sync=sync)
    client = falcon.testing.TestClient(create_app(conf, db=db, conductor=conductor))
    assert client.simulate_post(f"/v2/devices/{dev}/disable").status_code == 204
    assert inventory_of(placement_url, rp)["PGPU"]["reserved"] == 1
    # A firmware restore does not end maintenance: still reserved.
    sync.restore(dev)
    assert inventory_of(placement_url, rp)["PGPU"]["reserved"] == 1
    assert client.simulate_post(f"/v2/devices/{dev}/enable").status_code == 204
    assert inventory_of(placement_url, rp)["PGPU"]["reserved"] == 0


def test_sync_repairs_drift(db, sync, host, placement_url):
    name, _ = host
    report(db, name, [device_dict("gpu-1"), device_dict("gpu-2")])
    sync.sync_host(name)
    gone, altered = rp_uuid(name, "gpu-1"), rp_uuid(name, "gpu-2")
    assert placement_server.call(placement_url, "DELETE", f"/resource_providers/{gone}")[0] == 204
    generation = get(placement_url, f"/resource_providers/{altered}")["generation"]
    status, _ = placement_server.call(
        placement_url,
        "PUT",
        f"/resource_providers/{altered}/inventories",
        {"resource_provider_generation": generation, "inventories": {"PGPU": {"total": 8}}},
    )
    assert status == 200

    [result] = [r for r in sync.sync_all() if r.hostname == name]
    assert result.created == [gone]
    assert result.updated == [altered]
    assert inventory_of(placement_url, altered)["PGPU"]["total"] == 1
    assert "OWNER_CYBORG" in traits_of(placement_url, gone)


def test_the_periodic_sync_repairs_drift(db, sync, host, placement_url):
    name, _ = host
    report(db, name, [device_dict("gpu-1")])
    worker = SyncWorker(sync, interval=0.2)
    worker.start()
    try:
        rp = rp_uuid(name, "gpu-1")
        wait_for(
            "the first sync",
            lambda: (
                placement_server.call(placement_url, "GET", f"/resource_providers/{rp}")[0] == 200
            ),
        )
        placement_server.call(placement_url, "DELETE", f"/resource_providers/{rp}")
        wait_for(
            "the provider to come back",
            lambda: (
                placement_server.call(placement_url, "GET", f"/resource_providers/{rp}")[0] == 200
            ),
        )
    finally:
        worker.stop()


def allocate(url, rp, consumer, resource_class="PGPU"):
    status, body = placement_server.call(
        url,
        "PUT",
        f"/allocations/{consumer}",
        {
            "allocations": {rp: {"resources": {resource_class: 1}}},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
        },
    )
    assert status == 204, body


def test_removed_deployable_deleted_unless_allocated(db, sync, host, placement_url):
    name, _ = host
    report(db, name, [device_dict("gpu-1"), device_dict("gpu-2")])
    sync.sync_host(name)
    free, held = rp_uuid(name, "gpu-1"), rp_uuid(name, "gpu-2")
    consumer = str(uuid.uuid4())
    allocate(placement_url, held, consumer)

    report(db, name, [])
    result = sync.sync_host(name)
    assert result.deleted == [free]
    assert result.kept == [held]
    assert placement_server.call(placement_url, "GET", f"/resource_providers/{free}")[0] == 404
    # Kept while allocated, but nothing new may land on it.
    assert inventory_of(placement_url, held)["PGPU"]["reserved"] == 1

    assert placement_server.call(placement_url, "DELETE", f"/allocations/{consumer}")[0] == 204
    assert sync.sync_host(name).deleted == [held]


def test_generation_conflicts_are_retried(db, host, placement_url):
    name, _ = host
    report(db, name, [device_dict("gpu-1")])
    rp = rp_uuid(name, "gpu-1")
    raced = []

    def another_writer(url):
        # Once, just before our inventory PUT: someone else bumps the provider's generation.
        if url.endswith("/inventories") and not raced:
            raced.append(url)
            generation = get(placement_url, f"/resource_providers/{rp}")["generation"]
            status, _ = placement_server.call(
                placement_url,
                "PUT",
                f"/resource_providers/{rp}/traits",
                {"resource_provider_generation": generation, "traits": ["HW_CPU_X86_AVX"]},
            )
            assert status == 200

    client, recording = client_for(placement_url, another_writer)
    result = ProviderSync(db, client).sync_host(name)
    assert result.complete
    assert raced
    puts = [u for m, u in recording.requests if m == "PUT" and u.endswith(f"{rp}/inventories")]
    assert len(puts) == 2  # the one that lost the race, and the retry
    assert inventory_of(placement_url, rp)["PGPU"]["total"] == 1
    assert "HW_CPU_X86_AVX" not in traits_of(placement_url, rp)


def test_endless_conflicts_give_up_and_keep_sql(db, host, placement_url):
    name, _ = host
    report(db, name, [device_dict("gpu-1")])
    rp = rp_uuid(name, "gpu-1")

    def always(url):
        # Before every inventory PUT of ours, another writer changes the traits.
        if url.endswith("/inventories"):
            generation = get(placement_url, f"/resource_providers/{rp}")["generation"]
            traits = [] if generation % 2 else ["HW_CPU_X86_AVX"]
            status, _ = placement_server.call(
                placement_url,
                "PUT",
                f"/resource_providers/{rp}/traits",
                {"resource_provider_generation": generation, "traits": traits},
            )
            assert status == 200

    client, recording = client_for(placement_url, always)
    result = ProviderSync(db, client).sync_host(name)
    assert result.failed == [rp]
    assert sum(1 for m, u in recording.requests if m == "PUT" and "inventories" in u) == (
        CONFLICT_ATTEMPTS
    )
    assert device_uuid(db, name, "gpu-1")  # SQL kept the device


def test_placement_down_never_loses_sql(db):
    from tests.functional.servers import free_port

    client, _ = client_for(f"http://127.0.0.1:{free_port()}")
    name = f"compute-{uuid.uuid4().hex[:8]}"
    report(db, name, [device_dict("gpu-1")])
    result = ProviderSync(db, client).sync_host(name)
    assert result.failed == [name]
    assert not result.complete
    assert device_uuid(db, name, "gpu-1")


def test_the_conductor_service_syncs_after_reports_and_drains_for_the_engine(
    db, host, placement_url, tmp_path
):
    from cyborg_lite import rpc
    from cyborg_lite.conductor.service import ConductorService

    name, _ = host
    conf = placement_server.point_at(make_test_conf(str(tmp_path)), placement_url)
    service = ConductorService(conf, db, rpc.get_transport(conf), None)
    # The rollout engine drains through Placement.
    assert service.rollouts.engine._scheduling is service.scheduling
    assert isinstance(service.scheduling, ProviderSync)
    service.start()
    try:
        body = {"host": name, "agent_version": "t", "digest": "x", "devices": [device_dict("g")]}
        assert service.manager.report_inventory(None, body)["applied"]
        rp = rp_uuid(name, "g")
        wait_for(
            "the report's providers",
            lambda: (
                placement_server.call(placement_url, "GET", f"/resource_providers/{rp}")[0] == 200
            ),
        )
    finally:
        service.stop()


def test_the_rollout_engine_drains_through_placement_with_no_transaction_open(
    db, sync, host, placement_url
):
    # Drain, dispatch, result and restore over the real Placement: every Placement call must
    # happen outside any database transaction (the engine commits the drain first).
    from cyborg_lite.conductor.rollout import Engine
    from cyborg_lite.db import models
    from tests import firmware_fleet as ff

    name, _ = host
    report(db, name, [device_dict("gpu-1")])
    sync.sync_host(name)
    dev, rp = device_uuid(db, name, "gpu-1"), rp_uuid(name, "gpu-1")
    with db.transaction() as s:  # the reported vbios, one the image may update
        device_id = s.query(models.Device.id).filter_by(uuid=dev).scalar()
        s.query(models.FirmwareComponent).filter_by(device_id=device_id, component="vbios").update(
            {"version": ff.OLD, "updatable": True}
        )
    sent = []

    class Agents:
        def flash(self, hostname, job):
            # Dispatched after the drain: Placement already holds the device out.
            sent.append((job, inventory_of(placement_url, rp)["PGPU"]["reserved"]))

        def job_status(self, hostname, job_uuid):
            return None

    engine = Engine(db, Agents(), owner="c1", scheduling=sync)
    rollout = ff.rollout(db, ff.image(db), {"device_uuids": [dev]}, {"canary": 0})
    sync.recording.requests.clear()
    sync.recording.in_transaction.clear()
    engine.advance(rollout)
    ((job, reserved),) = sent
    assert reserved == 1
    engine.job_update(job["job_uuid"], "succeeded", version=ff.NEW)
    assert inventory_of(placement_url, rp)["PGPU"]["reserved"] == 0
    assert sync.recording.writes()  # the drain and the restore were written
    assert sync.recording.in_transaction
    assert not any(sync.recording.in_transaction)
