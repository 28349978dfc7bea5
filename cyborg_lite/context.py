"""The request context: who is calling, for which project, with which roles.

It is oslo.context's ``RequestContext`` (so oslo.policy and oslo.log understand it) built from
the headers keystonemiddleware sets, or, with ``auth_strategy = noauth``, from the same headers
sent by the caller, falling back to an admin of the default project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from oslo_context import context as oslo_context

# Keystone's default role implications (admin -> manager -> member -> reader). Keystone puts
# implied roles into tokens; with noauth we expand them the same way, so `X-Roles: member`
# behaves as a real member token would.
_IMPLIED = {"admin": ["manager"], "manager": ["member"], "member": ["reader"]}

NOAUTH_DEFAULT_ROLES = ("admin", "manager", "member", "reader", "service")


def expand_roles(roles: Iterable[str]) -> list[str]:
    """Add the roles Keystone would imply, keeping the given order first."""
    out: list[str] = []
    todo = [r.strip() for r in roles if r and r.strip()]
    while todo:
        role = todo.pop(0)
        if role.lower() in (r.lower() for r in out):
            continue
        out.append(role)
        todo.extend(_IMPLIED.get(role.lower(), []))
    return out


class RequestContext(oslo_context.RequestContext):
    """oslo.context's context, plus the microversion the request runs at."""

    def __init__(self, *args: Any, microversion: tuple[int, int] = (2, 0), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.microversion = microversion

    @property
    def has_service_role(self) -> bool:
        """True when a validated service token (or noauth header) carries the service role."""
        return any(r.lower() == "service" for r in (self.service_roles or []))


def _header_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def from_headers(
    headers: Mapping[str, str], *, request_id: str, noauth: bool, default_project: str
) -> RequestContext:
    """Build the context from keystonemiddleware's headers (upper-cased names).

    With ``noauth`` and none of the user identity headers present (``X-Roles``,
    ``X-Project-Id``, ``X-User-Id``, system scope), the caller is an admin of
    ``default_project`` that also holds the service role, so a plain curl can do everything.
    ``X-Service-Roles`` is not a user identity: a caller that sends only what
    keystonemiddleware sets for a service token (Nova's, beside no user token) still acts as
    the default identity, and the service roles it names are added, never taking rights away.
    """
    roles = _header_list(headers.get("X-ROLES"))
    project_id = headers.get("X-PROJECT-ID") or headers.get("X-TENANT-ID")
    user_id = headers.get("X-USER-ID")
    service_roles = _header_list(headers.get("X-SERVICE-ROLES"))
    system_scope = headers.get("OPENSTACK-SYSTEM-SCOPE")
    if noauth:
        if not (roles or project_id or user_id or system_scope):
            roles = list(NOAUTH_DEFAULT_ROLES)
            service_roles = ["service", *(r for r in service_roles if r.lower() != "service")]
            project_id = default_project
            user_id = "noauth-admin"
        roles = expand_roles(roles)
    return RequestContext(
        user_id=user_id,
        project_id=project_id,
        roles=roles,
        service_roles=service_roles,
        system_scope=system_scope,
        is_admin=any(r.lower() == "admin" for r in roles),
        request_id=request_id,
        global_request_id=headers.get("X-OPENSTACK-REQUEST-ID-GLOBAL"),
    )
