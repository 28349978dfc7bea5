"""Who is calling: header sets as keystonemiddleware would produce them for each persona."""

from __future__ import annotations

PROJECT_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
PROJECT_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def headers(
    roles: str,
    project: str | None = PROJECT_A,
    *,
    service: bool = False,
    version: str | None = None,
    system: str | None = None,
) -> dict[str, str]:
    """Identity headers for ``roles`` in ``project`` (and a service token when ``service``)."""
    out = {"X-Roles": roles, "X-User-Id": f"user-{roles.replace(',', '-')}"}
    if project is not None:
        out["X-Project-Id"] = project
    if service:
        out["X-Service-Roles"] = "service"
    if version is not None:
        out["OpenStack-API-Version"] = f"accelerator {version}"
    if system is not None:
        out["OpenStack-System-Scope"] = system
    return out


ADMIN = headers("admin")
MANAGER = headers("manager")
MEMBER = headers("member")
READER = headers("reader")
MEMBER_B = headers("member", PROJECT_B)
SERVICE = headers("service", service=True)
NOVA = headers("member", service=True)  # a user's token with Nova's service token
SYSTEM_ADMIN = headers("admin", None, system="all")
