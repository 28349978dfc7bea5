"""The request context from keystonemiddleware's headers, and the noauth defaults."""

from __future__ import annotations

from cyborg_lite import context

DEFAULT_PROJECT = "d" * 32


def build(headers, *, noauth):
    return context.from_headers(
        headers, request_id="req-1", noauth=noauth, default_project=DEFAULT_PROJECT
    )


def test_keystone_headers_are_taken_as_they_are():
    ctx = build(
        {
            "X-ROLES": "member, reader",
            "X-PROJECT-ID": "p1",
            "X-USER-ID": "u1",
            "X-SERVICE-ROLES": "service",
            "X-OPENSTACK-REQUEST-ID-GLOBAL": "req-global",
        },
        noauth=False,
    )
    assert ctx.roles == ["member", "reader"]
    assert ctx.project_id == "p1"
    assert ctx.user_id == "u1"
    assert ctx.service_roles == ["service"]
    assert ctx.has_service_role
    assert not ctx.is_admin
    assert ctx.request_id == "req-1"
    assert ctx.global_request_id == "req-global"


def test_keystone_roles_are_not_expanded():
    # Keystone puts implied roles into the token itself; the API must not add any.
    ctx = build({"X-ROLES": "manager", "X-PROJECT-ID": "p1"}, noauth=False)
    assert ctx.roles == ["manager"]


def test_keystone_without_headers_is_nobody():
    ctx = build({}, noauth=False)
    assert ctx.roles == []
    assert ctx.project_id is None
    assert ctx.user_id is None
    assert not ctx.is_admin
    assert not ctx.has_service_role


def test_noauth_without_headers_is_admin_of_default_project_with_service_role():
    ctx = build({}, noauth=True)
    assert set(ctx.roles) == {"admin", "manager", "member", "reader", "service"}
    assert ctx.is_admin
    assert ctx.project_id == DEFAULT_PROJECT
    assert ctx.user_id == "noauth-admin"
    assert ctx.service_roles == ["service"]
    assert ctx.has_service_role


def test_noauth_with_headers_acts_as_them_with_implied_roles():
    ctx = build({"X-ROLES": "member", "X-PROJECT-ID": "p1"}, noauth=True)
    assert ctx.roles == ["member", "reader"]
    assert ctx.project_id == "p1"
    assert ctx.user_id is None
    assert not ctx.is_admin
    assert not ctx.has_service_role


def test_noauth_service_token_alone_keeps_the_default_identity():
    # What keystonemiddleware sets for a service token with no user token: Nova's call must
    # not lose the default admin's rights by adding it.
    ctx = build({"X-SERVICE-ROLES": "service", "X-SERVICE-TOKEN": "t"}, noauth=True)
    assert ctx.is_admin
    assert ctx.project_id == DEFAULT_PROJECT
    assert ctx.user_id == "noauth-admin"
    assert ctx.has_service_role


def test_noauth_service_roles_add_to_the_default_service_role():
    ctx = build({"X-SERVICE-ROLES": "admin"}, noauth=True)
    assert ctx.service_roles == ["service", "admin"]
    assert ctx.is_admin


def test_noauth_service_roles_add_to_a_user_identity():
    ctx = build(
        {"X-ROLES": "member", "X-PROJECT-ID": "p1", "X-SERVICE-ROLES": "service"}, noauth=True
    )
    assert ctx.roles == ["member", "reader"]
    assert not ctx.is_admin
    assert ctx.has_service_role


def test_noauth_any_identity_header_disables_the_default():
    ctx = build({"X-USER-ID": "u1"}, noauth=True)
    assert ctx.roles == []
    assert ctx.project_id is None
    assert not ctx.is_admin


def test_tenant_id_is_the_legacy_project_header():
    assert build({"X-TENANT-ID": "t1", "X-ROLES": "reader"}, noauth=False).project_id == "t1"


def test_system_scope():
    ctx = build({"X-ROLES": "admin", "OPENSTACK-SYSTEM-SCOPE": "all"}, noauth=False)
    assert ctx.system_scope == "all"
    assert ctx.is_admin


def test_expand_roles_follows_keystone_implications_once_each():
    assert context.expand_roles(["admin"]) == ["admin", "manager", "member", "reader"]
    assert context.expand_roles(["Reader", "member", " ", "reader"]) == ["Reader", "member"]
    assert context.expand_roles(["service"]) == ["service"]
