"""The policy matrix with real Keystone tokens.

A real Keystone (``tests/keystone.py``: SQLite, fernet tokens, ``keystone-manage bootstrap``)
issues tokens for every persona; a real ``cyborg-lite-api`` (gunicorn) runs with
``auth_strategy = keystone`` and keystonemiddleware validating against it, with
``service_token_roles_required = true``. Requests go through keystoneauth1 sessions, and
Nova's calls through its service-token session (user token plus ``X-Service-Token``).

What is checked: each persona and scope against each route (the expectations below are
written from the contract's policy table, not read from the code), project isolation of
ARQs, the service-token gate, that a system-scoped token is refused on the project-scoped
API, that forged identity headers beside a valid token change nothing, and that audit
fields name the real Keystone user and project.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from keystoneauth1 import session as ks_session

from cyborg_lite.db import models
from cyborg_lite.db.engine import Database
from tests import keystone as ks
from tests import seed, services
from tests.functional.servers import call, running_api, sqlite_url

pytestmark = pytest.mark.slow

# The newest microversion: every route of the matrix exists there (firmware 2.4, usage 2.6,
# lending 2.7), and policy decides the same at every version.
VERSION = {"OpenStack-API-Version": "accelerator 2.7"}
PROFILE = "ks-gpu"
POOLS = "/v2/accelerator_pools"

# Who each rule lets in, from the contract's policy table (section 9.2) and the firmware
# rules' documentation: admin implies manager, member and reader; the service role implies
# nothing; the system-scoped admin is refused everywhere (every rule is project-scoped).
ADMINS = {ks.ADMIN, ks.ADMIN_B}
MANAGERS = ADMINS | {ks.MANAGER}
READERS = MANAGERS | {ks.MEMBER, ks.READER, ks.MEMBER_B}
MEMBERS = MANAGERS | {ks.MEMBER, ks.MEMBER_B}
MEMBERS_OR_SERVICE = MEMBERS | {ks.NOVA}
ADMINS_OR_SERVICE = ADMINS | {ks.NOVA}
CALLERS = (ks.SYSTEM_ADMIN, ks.ADMIN, ks.MANAGER, ks.MEMBER, ks.READER, ks.MEMBER_B, ks.NOVA)


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


class Api:
    """The cyborg-lite API behind keystonemiddleware, and what was seeded into it."""

    def __init__(self, base: str, keystone: ks.Keystone, ids: dict[str, Any]) -> None:
        self.base = base
        self.keystone = keystone
        self.ids = ids

    def request(
        self,
        persona: ks.Persona,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        service: ks.Persona | None = None,
    ) -> tuple[int, Any]:
        """``method path`` as ``persona`` (with ``service``'s token as X-Service-Token)."""
        session = self.keystone.session(persona, service=service)
        return send(session, method, self.base + path, body, headers)


def send(
    session: ks_session.Session,
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request through a keystoneauth1 session; status and parsed body."""
    kwargs: dict[str, Any] = {"headers": {**VERSION, **(headers or {})}, "raise_exc": False}
    if body is not None:
        kwargs["json"] = body
    resp = session.request(url, method, **kwargs)
    parsed = (
        resp.json() if resp.content and "json" in resp.headers.get("content-type", "") else None
    )
    return resp.status_code, parsed


def faultstring(body: Any) -> str:
    """The message in Cyborg's error envelope."""
    return str(json.loads(body["error_message"])["faultstring"]) if body else ""


@pytest.fixture(scope="module")
def api(keystone: ks.Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """``cyborg-lite-api`` with ``auth_strategy = keystone`` against ``keystone``."""
    tmp_path = tmp_path_factory.mktemp("cyborg-api")
    options = {
        "api.auth_strategy": "keystone",
        "api.workers": 1,
        "api.metrics_public": False,  # so that its rule is in the matrix too
        **keystone.authtoken_options(),
    }
    with running_api(options, tmp_path) as base:
        db = Database(sqlite_url(tmp_path))
        ids = seed.device(db, hostname="compute1", handles=4)
        with db.transaction() as s:
            ids["attribute_uuid"] = s.scalar(sa.select(models.Attribute.uuid).limit(1))
            s.add(
                models.FirmwareComponent(
                    device_id=ids["device_id"],
                    component="vbios",
                    version="96.00.5A.00.01",
                    updatable=True,
                    activation="reset",
                )
            )
        db.dispose()
        ids["db_url"] = sqlite_url(tmp_path)
        server = Api(base, keystone, ids)
        status, body = server.request(
            ks.ADMIN,
            "POST",
            "/v2/device_profiles",
            [{"name": PROFILE, "groups": [{"resources:PGPU": "1"}]}],
        )
        assert status == 201, body
        ids["profile_uuid"] = body["uuid"]
        yield server


def random_uuid() -> str:
    return str(uuid.uuid4())


def matrix(ids: dict[str, Any]) -> list[tuple[str, str, Any, str, set[ks.Persona]]]:
    """(method, path, body, rule, allowed personas) for every route. Reads use seeded ids;
    writes use unknown ids or empty bodies, so an allowed write fails later (404/400) and
    changes nothing, while a denied one is refused by policy first."""
    dev, dep, nobody = ids["device_uuid"], ids["deployable_uuid"], random_uuid()
    return [
        ("GET", "/v2/devices", None, "cyborg:device:get_all", MANAGERS),
        ("GET", f"/v2/devices/{dev}", None, "cyborg:device:get_one", MANAGERS),
        ("POST", f"/v2/devices/{nobody}/disable", None, "cyborg:device:disable", ADMINS),
        ("POST", f"/v2/devices/{nobody}/enable", None, "cyborg:device:enable", ADMINS),
        ("GET", f"/v2/devices/{dev}/firmware", None, "cyborg:device:firmware", MANAGERS),
        ("GET", "/v2/deployables", None, "cyborg:deployable:get_all", MANAGERS),
        ("GET", f"/v2/deployables/{dep}", None, "cyborg:deployable:get_one", MANAGERS),
        ("PATCH", f"/v2/deployables/{nobody}/program", [], "cyborg:deployable:program", ADMINS),
        ("GET", "/v2/attributes", None, "cyborg:attribute:get_all", MANAGERS),
        (
            "GET",
            f"/v2/attributes/{ids['attribute_uuid']}",
            None,
            "cyborg:attribute:get_one",
            MANAGERS,
        ),
        ("POST", "/v2/attributes", {}, "cyborg:attribute:create", ADMINS),
        ("DELETE", f"/v2/attributes/{nobody}", None, "cyborg:attribute:delete", ADMINS),
        ("GET", "/v2/device_profiles", None, "cyborg:device_profile:get_all", READERS),
        (
            "GET",
            f"/v2/device_profiles/{ids['profile_uuid']}",
            None,
            "cyborg:device_profile:get_one",
            READERS,
        ),
        ("POST", "/v2/device_profiles", [], "cyborg:device_profile:create", ADMINS),
        ("DELETE", f"/v2/device_profiles/{nobody}", None, "cyborg:device_profile:delete", ADMINS),
        ("GET", "/v2/accelerator_requests", None, "cyborg:arq:get_all", READERS),
        ("GET", f"/v2/accelerator_requests/{nobody}", None, "cyborg:arq:get_one", READERS),
        ("POST", "/v2/accelerator_requests", {}, "cyborg:arq:create", MEMBERS_OR_SERVICE),
        ("PATCH", "/v2/accelerator_requests", {}, "cyborg:arq:update", MEMBERS_OR_SERVICE),
        (
            "DELETE",
            f"/v2/accelerator_requests?arqs={nobody}",
            None,
            "cyborg:arq:delete",
            MEMBERS_OR_SERVICE,
        ),
        ("GET", "/v2/hosts", None, "cyborg:host:get_all", MANAGERS),
        ("GET", "/v2/hosts/compute1", None, "cyborg:host:get_one", MANAGERS),
        ("POST", "/v2/firmware_images", {}, "cyborg:firmware_image:create", ADMINS),
        ("GET", "/v2/firmware_images", None, "cyborg:firmware_image:get_all", ADMINS),
        (
            "GET",
            f"/v2/firmware_images/{nobody}",
            None,
            "cyborg:firmware_image:get_one",
            ADMINS_OR_SERVICE,
        ),
        (
            "GET",
            f"/v2/firmware_images/{nobody}/file",
            None,
            "cyborg:firmware_image:download",
            ADMINS_OR_SERVICE,
        ),
        ("PUT", f"/v2/firmware_images/{nobody}/file", b"", "cyborg:firmware_image:upload", ADMINS),
        ("DELETE", f"/v2/firmware_images/{nobody}", None, "cyborg:firmware_image:delete", ADMINS),
        ("POST", "/v2/firmware_rollouts", {}, "cyborg:firmware_rollout:create", ADMINS),
        ("GET", "/v2/firmware_rollouts", None, "cyborg:firmware_rollout:get_all", MANAGERS),
        ("GET", "/metrics", None, "cyborg:metrics:get", ADMINS),
        (
            "GET",
            f"/v2/firmware_rollouts/{nobody}",
            None,
            "cyborg:firmware_rollout:get_one",
            MANAGERS,
        ),
        (
            "GET",
            f"/v2/firmware_rollouts/{nobody}/jobs",
            None,
            "cyborg:firmware_rollout:get_jobs",
            MANAGERS,
        ),
        (
            "POST",
            f"/v2/firmware_rollouts/{nobody}/action",
            {"action": "pause"},
            "cyborg:firmware_rollout:action",
            ADMINS,
        ),
        ("GET", "/v2/usage", None, "cyborg:usage:get_summary", READERS),
        ("GET", f"/v2/devices/{dev}/usage", None, "cyborg:usage:get_device", READERS),
        ("POST", POOLS, {}, "cyborg:accelerator_pool:create", MEMBERS),
        ("GET", POOLS, None, "cyborg:accelerator_pool:get_all", READERS),
        ("GET", f"{POOLS}/{nobody}", None, "cyborg:accelerator_pool:get_one", READERS),
        ("PATCH", f"{POOLS}/{nobody}", {}, "cyborg:accelerator_pool:update", MEMBERS),
        ("DELETE", f"{POOLS}/{nobody}", None, "cyborg:accelerator_pool:delete", MEMBERS),
        ("POST", f"{POOLS}/{nobody}/windows", {}, "cyborg:accelerator_pool:add_window", MEMBERS),
        (
            "DELETE",
            f"{POOLS}/{nobody}/windows/{random_uuid()}",
            None,
            "cyborg:accelerator_pool:remove_window",
            MEMBERS,
        ),
        (
            "POST",
            f"{POOLS}/{nobody}/action",
            {"action": "reclaim"},
            "cyborg:accelerator_pool:reclaim",
            MEMBERS,
        ),
        ("GET", "/v2/loans", None, "cyborg:loan:get_all", READERS),
        ("GET", f"/v2/loans/{nobody}", None, "cyborg:loan:get_one", READERS),
        ("GET", "/v2/loans/summary", None, "cyborg:loan:get_summary", READERS),
    ]


def test_policy_matrix_with_real_tokens(api: Api) -> None:
    wrong = []
    for method, path, body, rule, allowed in matrix(api.ids):
        for persona in CALLERS:
            if isinstance(body, bytes):
                session = api.keystone.session(persona)
                resp = session.request(
                    api.base + path, method, data=body, headers=VERSION, raise_exc=False
                )
                status, parsed = resp.status_code, resp.json() if resp.content else None
            else:
                status, parsed = api.request(persona, method, path, body)
            assert status != 401, f"{persona.username}'s valid token refused on {method} {path}"
            denied = status == 403 and faultstring(parsed).startswith(
                f"Access was denied to the following resource: {rule}"
            )
            if denied == (persona in allowed):
                wrong.append(f"{persona.username} {method} {path}: {status} {parsed}")
    assert wrong == []


def test_every_documented_rule_is_in_the_matrix(api: Api) -> None:
    from cyborg_lite.api import policies

    api_rules = {r.name for r in policies.list_rules() if r.name.startswith("cyborg:")}
    assert api_rules == {rule for _, _, _, rule, _ in matrix(api.ids)}


def test_system_scoped_admin_is_refused_on_project_routes(api: Api) -> None:
    status, body = api.request(ks.SYSTEM_ADMIN, "GET", "/v2/devices")
    assert status == 403
    assert "cyborg:device:get_all" in faultstring(body)


def test_no_token_and_a_bogus_token_get_401(api: Api) -> None:
    assert call("GET", api.base + "/v2/devices")[0] == 401
    assert call("GET", api.base + "/v2/devices", headers={"X-Auth-Token": "gAAAAAbogus"})[0] == 401


def test_forged_identity_headers_beside_a_real_token_change_nothing(api: Api) -> None:
    forged = {
        "X-Roles": "admin",
        "X-Project-Id": api.keystone.project_ids[ks.PROJECT_B],
        "X-Service-Roles": "service",
        "X-Is-Admin-Project": "True",
    }
    status, body = api.request(
        ks.MEMBER, "POST", "/v2/device_profiles", [{"name": "x", "groups": []}], headers=forged
    )
    assert status == 403
    assert "cyborg:device_profile:create" in faultstring(body)
    status, body = api.request(ks.MEMBER, "PATCH", "/v2/accelerator_requests", {}, headers=forged)
    assert status == 403
    assert "requires a service token" in faultstring(body)


def create_arq(api: Api, persona: ks.Persona) -> str:
    status, body = api.request(
        persona, "POST", "/v2/accelerator_requests", {"device_profile_name": PROFILE}
    )
    assert status == 201, body
    return str(body["arqs"][0]["uuid"])


def bind_patch(api: Api, arq: str, instance: str) -> dict[str, Any]:
    return {
        arq: [
            {"op": "add", "path": "/hostname", "value": "compute1"},
            {"op": "add", "path": "/device_rp_uuid", "value": api.ids["rp_uuid"]},
            {"op": "add", "path": "/instance_uuid", "value": instance},
        ]
    }


def arq_state(api: Api, arq: str) -> str:
    status, body = api.request(ks.ADMIN, "GET", f"/v2/accelerator_requests/{arq}")
    assert status == 200, body
    return str(body["state"])


def test_another_project_cannot_see_bind_or_delete_an_arq(api: Api) -> None:
    arq = create_arq(api, ks.MEMBER)
    project_a = api.keystone.project_ids[ks.PROJECT_A]
    status, body = api.request(ks.MEMBER, "GET", f"/v2/accelerator_requests/{arq}")
    assert (status, body["project_id"]) == (200, project_a)

    status, listed = api.request(ks.MEMBER_B, "GET", "/v2/accelerator_requests")
    assert status == 200
    assert arq not in {a["uuid"] for a in listed["arqs"]}
    assert api.request(ks.MEMBER_B, "GET", f"/v2/accelerator_requests/{arq}")[0] == 404
    # Even with Nova's valid service token beside it, project B's user token binds nothing.
    status, _ = api.request(
        ks.MEMBER_B,
        "PATCH",
        "/v2/accelerator_requests",
        bind_patch(api, arq, random_uuid()),
        service=ks.NOVA,
    )
    assert status == 404
    assert api.request(ks.MEMBER_B, "DELETE", f"/v2/accelerator_requests?arqs={arq}")[0] == 404
    assert api.request(ks.MEMBER_B, "DELETE", f"/v2/accelerator_requests/{arq}")[0] == 404
    # An admin of project B is an admin: it sees every project's ARQs, as in Cyborg.
    assert api.request(ks.ADMIN_B, "GET", f"/v2/accelerator_requests/{arq}")[0] == 200
    assert arq_state(api, arq) == "Initial"
    assert api.request(ks.MEMBER, "DELETE", f"/v2/accelerator_requests/{arq}")[0] == 204


def test_service_token_gate_on_bind_unbind_and_delete(api: Api) -> None:
    arq, instance = create_arq(api, ks.MEMBER), random_uuid()
    patch = bind_patch(api, arq, instance)
    # The user's token alone: refused by the gate, nothing changes.
    status, body = api.request(ks.MEMBER, "PATCH", "/v2/accelerator_requests", patch)
    assert status == 403
    assert "requires a service token" in faultstring(body)
    assert arq_state(api, arq) == "Initial"
    # A user token offered as the service token lacks the service role: keystonemiddleware
    # (service_token_roles_required) refuses the request outright.
    status, _ = api.request(
        ks.MEMBER, "PATCH", "/v2/accelerator_requests", patch, service=ks.MEMBER_B
    )
    assert status == 401
    assert arq_state(api, arq) == "Initial"
    # Nova's way: the user's token and Nova's service token.
    status, _ = api.request(ks.MEMBER, "PATCH", "/v2/accelerator_requests", patch, service=ks.NOVA)
    assert status == 202
    assert arq_state(api, arq) == "Bound"

    # A bound ARQ: its owner cannot delete it without the service token, by uuid or instance.
    status, body = api.request(ks.MEMBER, "DELETE", f"/v2/accelerator_requests/{arq}")
    assert (status, "requires a service token" in faultstring(body)) == (403, True)
    status, body = api.request(ks.MEMBER, "DELETE", f"/v2/accelerator_requests?instance={instance}")
    assert (status, "requires a service token" in faultstring(body)) == (403, True)
    assert arq_state(api, arq) == "Bound"

    unbind = {arq: [{"op": "remove", "path": "/hostname"}]}
    assert api.request(ks.MEMBER, "PATCH", "/v2/accelerator_requests", unbind)[0] == 403
    status, _ = api.request(ks.MEMBER, "PATCH", "/v2/accelerator_requests", unbind, service=ks.NOVA)
    assert status == 202
    assert arq_state(api, arq) == "Unbound"
    # Unbound again: its owner deletes it with the user token alone.
    assert api.request(ks.MEMBER, "DELETE", f"/v2/accelerator_requests/{arq}")[0] == 204


def test_bound_arq_deleted_by_instance_with_service_token(api: Api) -> None:
    arq, instance = create_arq(api, ks.MEMBER), random_uuid()
    status, _ = api.request(
        ks.MEMBER,
        "PATCH",
        "/v2/accelerator_requests",
        bind_patch(api, arq, instance),
        service=ks.NOVA,
    )
    assert status == 202
    status, _ = api.request(
        ks.MEMBER, "DELETE", f"/v2/accelerator_requests?instance={instance}", service=ks.NOVA
    )
    assert status == 204
    assert api.request(ks.ADMIN, "GET", f"/v2/accelerator_requests/{arq}")[0] == 404


def test_audit_names_the_real_keystone_user_and_project(api: Api) -> None:
    data = b"firmware bytes for the audit test"
    admin = api.keystone.session(ks.ADMIN)
    user_id, project_id = admin.get_user_id(), admin.get_project_id()
    status, image = api.request(
        ks.ADMIN,
        "POST",
        "/v2/firmware_images",
        {
            "name": "audit",
            "vendor": "10de",
            "component": "vbios",
            "version": "96.00.99.00.01",
            "device_ids": ["2330"],
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    assert status == 201, image
    assert image["created_by"] == {"user_id": user_id, "project_id": project_id}
    resp = admin.request(
        f"{api.base}/v2/firmware_images/{image['uuid']}/file",
        "PUT",
        data=data,
        headers={**VERSION, "Content-Type": "application/octet-stream"},
        raise_exc=False,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["uploaded_by"] == {"user_id": user_id, "project_id": project_id}

    # A rollout made by project A's admin, then paused by project B's admin: both recorded.
    status, rollout = api.request(
        ks.ADMIN,
        "POST",
        "/v2/firmware_rollouts",
        {
            "image_uuid": image["uuid"],
            "selector": {"hosts": ["compute1"]},
            "strategy": {"canary": 0, "waves": ["100%"]},
        },
    )
    assert status == 201, rollout
    assert rollout["created_by"] == {"user_id": user_id, "project_id": project_id}
    other = api.keystone.session(ks.ADMIN_B)
    status, paused = api.request(
        ks.ADMIN_B, "POST", f"/v2/firmware_rollouts/{rollout['uuid']}/action", {"action": "pause"}
    )
    assert status == 200, paused
    assert paused["last_action"]["action"] == "pause"
    assert (paused["last_action"]["user_id"], paused["last_action"]["project_id"]) == (
        other.get_user_id(),
        other.get_project_id(),
    )
    assert paused["created_by"]["user_id"] == user_id
    abort = {"action": "abort"}
    path = f"/v2/firmware_rollouts/{rollout['uuid']}/action"
    assert api.request(ks.ADMIN, "POST", path, abort)[0] == 200


def test_pools_and_loans_are_seen_by_their_projects_only(api: Api) -> None:
    """Project alpha's member pools the seeded device and lends it to beta; a loan to beta
    and one to a third project are seeded in SQL. Each token sees what its project owns or
    borrows; anyone else gets 404 and empty lists."""
    alpha = api.keystone.project_ids[ks.PROJECT_A]
    beta = api.keystone.project_ids[ks.PROJECT_B]
    body = {
        "name": "ks-pool",
        "selector": {"device_uuids": [api.ids["device_uuid"]]},
        "borrower_project_ids": [beta],
    }
    status, pool = api.request(ks.MEMBER, "POST", POOLS, body)
    assert status == 201, pool
    assert pool["owner_project_id"] == alpha
    item = f"{POOLS}/{pool['uuid']}"
    db = Database(api.ids["db_url"])
    try:
        with db.transaction() as s:
            for borrower in (beta, "gamma"):
                s.add(
                    models.Loan(
                        pool_uuid=pool["uuid"],
                        device_uuid=api.ids["device_uuid"],
                        owner_project_id=alpha,
                        borrower_project_id=borrower,
                        arq_uuid=random_uuid(),
                        state="closed",
                        started_at=models.utcnow(),
                        ended_at=models.utcnow(),
                        reclaim_attempts=0,
                    )
                )
        # The owner's reader looks; it may not change.
        assert api.request(ks.READER, "GET", item)[0] == 200
        assert api.request(ks.READER, "PATCH", item, {"notice_seconds": 1})[0] == 403
        # The borrower project's member neither sees nor touches the pool.
        assert api.request(ks.MEMBER_B, "GET", item)[0] == 404
        status, listed = api.request(ks.MEMBER_B, "GET", POOLS)
        assert (status, listed["accelerator_pools"]) == (200, [])
        assert api.request(ks.MEMBER_B, "POST", f"{item}/action", {"action": "reclaim"})[0] == 404
        # An admin of beta is an admin: it sees every pool.
        assert api.request(ks.ADMIN_B, "GET", item)[0] == 200

        status, owned = api.request(ks.MEMBER, "GET", "/v2/loans")
        assert status == 200
        assert sorted(x["borrower_project_id"] for x in owned["loans"]) == [beta, "gamma"]
        status, borrowed = api.request(ks.MEMBER_B, "GET", "/v2/loans")
        assert [x["borrower_project_id"] for x in borrowed["loans"]] == [beta]
        theirs = next(x["uuid"] for x in owned["loans"] if x["borrower_project_id"] == "gamma")
        assert api.request(ks.MEMBER_B, "GET", f"/v2/loans/{theirs}")[0] == 404
        status, summary = api.request(ks.MEMBER_B, "GET", "/v2/loans/summary")
        assert [g["key"] for g in summary["groups"]] == [beta]
    finally:
        with db.transaction() as s:
            s.execute(sa.delete(models.Loan).where(models.Loan.pool_uuid == pool["uuid"]))
        db.dispose()
        assert api.request(ks.MEMBER, "DELETE", item)[0] == 204
