"""Policy rules for hosts (microversion 2.4): read by admins and project managers, like
devices."""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

GET_ALL = "cyborg:host:get_all"
GET_ONE = "cyborg:host:get_one"


def list_rules() -> list[policy.RuleDefault]:
    """The host rules."""
    return [
        base.rule(GET_ALL, base.PROJECT_MANAGER_OR_ADMIN, "List hosts.", [("GET", "/v2/hosts")]),
        base.rule(
            GET_ONE,
            base.PROJECT_MANAGER_OR_ADMIN,
            "Show a host.",
            [("GET", "/v2/hosts/{hostname}")],
        ),
    ]
