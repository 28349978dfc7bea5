"""openstacksdk's accelerator proxy (``conn.accelerator``), unmodified, against cyborg-lite.

Two deployments, each module-scoped: the all-in-one with its simulated fleet, reached with
``auth_type: none`` and an endpoint override (how a cloud without Keystone is configured);
and ``cyborg-lite-api`` behind keystonemiddleware with a real Keystone, found through the
Keystone catalog (service type ``accelerator``), as a user with a password reaches it. Every
check goes through the SDK's own methods; the only raw call is the SDK adapter's
``GET /deployables/<uuid>``, for ``rp_uuid``, which the SDK's ``Deployable`` does not map.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from keystoneauth1 import session as ks_session
from keystoneclient.v3 import client as ks_client
from openstack import connection, exceptions

from cyborg_lite.db.engine import Database
from tests import keystone as ks
from tests import seed, services
from tests.functional.cli_support import DEVICES_PER_HOST, SIMULATED_HOSTS, running_aio
from tests.functional.servers import running_api, sqlite_url

pytestmark = [
    pytest.mark.slow,
    # The SDK's notices of its own coming removals (RemovedInSDK50Warning...), not ours.
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]

FLEET = SIMULATED_HOSTS * DEVICES_PER_HOST
H100 = "NVIDIA H100 80GB HBM3"
SEEDED = 6  # devices seeded behind Keystone: more than one page of 4


def sdk(**options: Any) -> connection.Connection:
    """An SDK connection from ``options`` alone: no clouds.yaml, no OS_* variables."""
    return openstack.connect(load_yaml_config=False, load_envvars=False, **options)


def bind_patch(hostname: str, rp_uuid: str, instance: str) -> list[dict[str, str]]:
    """The JSON patch Nova (and the CLI) send to bind an ARQ."""
    return [
        {"op": "add", "path": "/hostname", "value": hostname},
        {"op": "add", "path": "/device_rp_uuid", "value": rp_uuid},
        {"op": "add", "path": "/instance_uuid", "value": instance},
    ]


UNBIND = [
    {"op": "remove", "path": f"/{f}"} for f in ("hostname", "device_rp_uuid", "instance_uuid")
]


def update_arq(conn: connection.Connection, arq: str, patch: list[dict[str, str]]) -> None:
    """``update_accelerator_request``, the proxy's bind/unbind call (deprecated in favour of
    ``patch_accelerator_request``, which it calls; python-cyborgclient still uses it). It
    answers with an empty resource (Cyborg's 202 has no body), so callers fetch the ARQ."""
    conn.accelerator.update_accelerator_request(arq, patch)


def rp_uuid(conn: connection.Connection, deployable: str) -> str:
    """A deployable's resource provider, through the SDK's adapter (not a mapped field)."""
    return str(conn.accelerator.get(f"/deployables/{deployable}").json()["rp_uuid"])


# --- without Keystone: the all-in-one and its simulated fleet ---------------------------


@pytest.fixture(scope="module")
def noauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[connection.Connection]:
    """An SDK connection with ``auth_type: none`` to a module-wide all-in-one."""
    with running_aio(tmp_path_factory.mktemp("sdk-aio")) as base:
        endpoint = f"{base}/v2"
        yield sdk(
            auth_type="none", auth={"endpoint": endpoint}, accelerator_endpoint_override=endpoint
        )


def test_devices_list_show_and_filter(noauth: connection.Connection) -> None:
    devices = list(noauth.accelerator.devices())
    assert len(devices) == FLEET
    assert {d.hostname for d in devices} == {"sim-host-01", "sim-host-02"}
    gpus = list(noauth.accelerator.devices(type="GPU", hostname="sim-host-02"))
    assert sorted(d.model for d in gpus) == sorted(
        d.model for d in devices if d.type == "GPU" and d.hostname == "sim-host-02"
    )
    assert gpus
    assert {d.vendor for d in gpus} <= {"10de", "1002"}
    one = noauth.accelerator.get_device(gpus[0].uuid)
    assert (one.uuid, one.model, one.hostname) == (gpus[0].uuid, gpus[0].model, "sim-host-02")
    with pytest.raises(exceptions.NotFoundException, match="Device not found"):
        noauth.accelerator.get_device(str(uuid.uuid4()))


@pytest.mark.parametrize("limit", [3, 4, 5])
def test_paging_returns_every_item(noauth: connection.Connection, limit: int) -> None:
    # 10 items: pages of 3 and 4 end on a short page, pages of 5 on an empty one.
    devices = [d.uuid for d in noauth.accelerator.devices(limit=limit)]
    assert sorted(devices) == sorted(d.uuid for d in noauth.accelerator.devices())
    assert len(set(devices)) == FLEET
    deployables = [d.id for d in noauth.accelerator.deployables(limit=limit)]
    assert sorted(deployables) == sorted(d.id for d in noauth.accelerator.deployables())
    assert len(set(deployables)) == FLEET


def test_deployables_and_attributes(noauth: connection.Connection) -> None:
    deployables = list(noauth.accelerator.deployables())
    h100 = next(d for d in deployables if d.name == "sim-host-01_nvidia-h100-0")
    shown = noauth.accelerator.get_deployable(h100.id)
    assert (shown.name, shown.num_accelerators, shown.device_id) == (
        h100.name,
        1,
        h100.device_id,
    )
    # By the deployable's uuid (what the CLI passes), then by the integer id it answers with.
    created = noauth.accelerator.create_attribute(
        deployable_id=h100.id, key="sdk-color", value="blue"
    )
    assert (created.key, created.value) == ("sdk-color", "blue")
    again = noauth.accelerator.create_attribute(
        deployable_id=created.deployable_id, key="sdk-shape", value="round"
    )
    assert again.deployable_id == created.deployable_id
    got = noauth.accelerator.get_attribute(created.uuid)
    assert (got.deployable_id, got.key, got.value) == (created.deployable_id, "sdk-color", "blue")
    assert [a.uuid for a in noauth.accelerator.attributes(key="sdk-color")] == [created.uuid]
    noauth.accelerator.delete_attribute(again, ignore_missing=False)
    noauth.accelerator.delete_attribute(created.uuid, ignore_missing=False)
    assert list(noauth.accelerator.attributes(key="sdk-color")) == []


def test_device_profiles(noauth: connection.Connection) -> None:
    group = {"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}
    made = noauth.accelerator.create_device_profile(
        name="sdk-one-h100", groups=[group], description="one H100"
    )
    assert (made.name, made.groups, made.description) == ("sdk-one-h100", [group], "one H100")
    assert "sdk-one-h100" in [p.name for p in noauth.accelerator.device_profiles()]
    got = noauth.accelerator.get_device_profile(made.uuid)
    assert (got.uuid, got.name, got.groups) == (made.uuid, "sdk-one-h100", [group])
    with pytest.raises(exceptions.ConflictException, match="already exists"):
        noauth.accelerator.create_device_profile(name="sdk-one-h100", groups=[group])
    noauth.accelerator.delete_device_profile(made, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        noauth.accelerator.get_device_profile(made.uuid)
    assert noauth.accelerator.delete_device_profile(made.uuid) is None  # ignore_missing


def test_arq_create_bind_unbind_delete(noauth: connection.Connection) -> None:
    profile = noauth.accelerator.create_device_profile(
        name="sdk-arq", groups=[{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}]
    )
    arq = noauth.accelerator.create_accelerator_request(device_profile_name="sdk-arq")
    assert (arq.state, arq.device_profile_name, arq.device_profile_group_id) == (
        "Initial",
        "sdk-arq",
        0,
    )
    assert arq.uuid in [a.uuid for a in noauth.accelerator.accelerator_requests()]
    h100 = next(d for d in noauth.accelerator.deployables() if "nvidia-h100" in d.name)
    host = h100.name.split("_")[0]  # the simulated deployables are named <host>_<device>
    instance = str(uuid.uuid4())
    update_arq(noauth, arq.uuid, bind_patch(host, rp_uuid(noauth, h100.id), instance))
    bound = noauth.accelerator.get_accelerator_request(arq.uuid)
    assert (bound.state, bound.hostname, bound.instance_uuid) == ("Bound", host, instance)
    assert bound.attach_handle_type == "PCI"
    assert set(bound.attach_handle_info) == {"domain", "bus", "device", "function"}
    update_arq(noauth, arq.uuid, UNBIND)
    unbound = noauth.accelerator.get_accelerator_request(arq.uuid)
    assert (unbound.state, unbound.hostname, unbound.instance_uuid) == ("Unbound", None, None)
    noauth.accelerator.delete_accelerator_request(arq.uuid, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException, match="ExtArq not found"):
        noauth.accelerator.get_accelerator_request(arq.uuid)
    noauth.accelerator.delete_device_profile(profile, ignore_missing=False)


def test_device_disable_and_enable(noauth: connection.Connection) -> None:
    device = next(iter(noauth.accelerator.devices(type="GPU")))

    def status() -> str:
        # ``status`` exists from 2.3; the proxy sends no microversion of its own.
        resp = noauth.accelerator.get(f"/devices/{device.uuid}", microversion="2.3")
        return str(resp.json()["status"])

    noauth.accelerator.disable_device(device.uuid)
    assert status() == "maintaining"
    noauth.accelerator.enable_device(device)
    assert status() == "enabled"


# --- with Keystone: tokens, the catalog and the service-token gate ------------------------


class Cloud:
    """A Keystone and the cyborg-lite API registered in its catalog."""

    def __init__(self, keystone: ks.Keystone, base_url: str, ids: dict[str, Any]) -> None:
        self.keystone = keystone
        self.base_url = base_url
        self.ids = ids  # of the last seeded device

    def user(self, persona: ks.Persona) -> connection.Connection:
        """An SDK connection as ``persona`` from its password: endpoint from the catalog."""
        auth = {
            "auth_url": self.keystone.auth_url,
            "username": persona.username,
            "password": self.keystone.password,
            "project_name": persona.project,
            "user_domain_id": "default",
            "project_domain_id": "default",
        }
        return sdk(auth_type="password", auth=auth, region_name="RegionOne")

    def nova(self, persona: ks.Persona) -> connection.Connection:
        """How Nova calls: ``persona``'s token plus Nova's as ``X-Service-Token``."""
        session = self.keystone.session(persona, service=ks.NOVA)
        return connection.Connection(session=session, region_name="RegionOne")


def register(keystone: ks.Keystone, base_url: str) -> None:
    """Cyborg's catalog entry: service type ``accelerator``, the endpoint with ``/v2``."""
    admin = ks_client.Client(session=ks_session.Session(auth=keystone.auth(ks.SYSTEM_ADMIN)))
    service = admin.services.create(name="cyborg", type="accelerator")
    for interface in ("public", "internal"):
        admin.endpoints.create(
            service=service, url=f"{base_url}/v2", interface=interface, region="RegionOne"
        )


@pytest.fixture(scope="module")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ks.Keystone]:
    """A real Keystone for this module; skipped (failed in CI) when it cannot start."""
    try:
        manager = ks.running_keystone(tmp_path_factory.mktemp("keystone"))
        server = manager.__enter__()
    except Exception as err:  # whatever stops Keystone from starting is the reason to report
        services.unavailable("Keystone (the keystone package, a declared test dependency)", err)
    try:
        yield server
    finally:
        manager.__exit__(None, None, None)


def seed_devices(folder: Path) -> dict[str, Any]:
    """``SEEDED`` devices over two hosts; the ids of the last one."""
    db = Database(sqlite_url(folder))
    try:
        for i in range(SEEDED):
            ids = seed.device(db, hostname=f"compute{i % 2}", pci=f"0000:3b:0{i}.0", handles=2)
    finally:
        db.dispose()
    return ids


@pytest.fixture(scope="module")
def cloud(keystone: ks.Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """``cyborg-lite-api`` with ``auth_strategy = keystone``, in ``keystone``'s catalog."""
    folder = tmp_path_factory.mktemp("sdk-api")
    options = {"api.auth_strategy": "keystone", "api.workers": 1, **keystone.authtoken_options()}
    with running_api(options, folder) as base:
        ids = seed_devices(folder)
        register(keystone, base)
        yield Cloud(keystone, base, ids)


def test_keystone_catalog_lists_and_pages(cloud: Cloud) -> None:
    conn = cloud.user(ks.ADMIN)
    assert conn.accelerator.get_endpoint() == f"{cloud.base_url}/v2"
    devices = [d.uuid for d in conn.accelerator.devices()]
    assert len(devices) == SEEDED
    assert sorted(d.uuid for d in conn.accelerator.devices(limit=4)) == sorted(devices)
    paged = [d.id for d in conn.accelerator.deployables(limit=4)]
    assert len(set(paged)) == SEEDED
    assert conn.accelerator.get_device(cloud.ids["device_uuid"]).hostname == "compute1"


def test_keystone_policy_reaches_the_sdk(cloud: Cloud) -> None:
    with pytest.raises(exceptions.ForbiddenException, match="cyborg:device:get_all"):
        list(cloud.user(ks.MEMBER).accelerator.devices())
    # A reader may list profiles but not create one.
    with pytest.raises(exceptions.ForbiddenException, match="cyborg:device_profile:create"):
        cloud.user(ks.READER).accelerator.create_device_profile(
            name="reader", groups=[{"resources:PGPU": "1"}]
        )


def test_keystone_arq_bind_needs_a_service_token(cloud: Cloud) -> None:
    admin = cloud.user(ks.ADMIN)
    profile = admin.accelerator.create_device_profile(
        name="ks-one-gpu", groups=[{"resources:PGPU": "1"}]
    )
    assert [p.name for p in cloud.user(ks.READER).accelerator.device_profiles()] == ["ks-one-gpu"]
    arq = cloud.user(ks.MEMBER).accelerator.create_accelerator_request(
        device_profile_name="ks-one-gpu"
    )
    patch = bind_patch("compute1", cloud.ids["rp_uuid"], str(uuid.uuid4()))
    with pytest.raises(exceptions.ForbiddenException, match="requires a service token"):
        update_arq(admin, arq.uuid, patch)
    assert admin.accelerator.get_accelerator_request(arq.uuid).state == "Initial"
    nova = cloud.nova(ks.MEMBER)
    update_arq(nova, arq.uuid, patch)
    bound = admin.accelerator.get_accelerator_request(arq.uuid)
    assert (bound.state, bound.device_rp_uuid) == ("Bound", cloud.ids["rp_uuid"])
    update_arq(nova, arq.uuid, UNBIND)
    assert admin.accelerator.get_accelerator_request(arq.uuid).state == "Unbound"
    cloud.user(ks.MEMBER).accelerator.delete_accelerator_request(arq.uuid, ignore_missing=False)
    assert list(admin.accelerator.accelerator_requests()) == []
    admin.accelerator.delete_device_profile(profile, ignore_missing=False)
    assert list(admin.accelerator.device_profiles()) == []
