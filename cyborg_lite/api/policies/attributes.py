"""Policy rules for attributes."""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

GET_ALL = "cyborg:attribute:get_all"
GET_ONE = "cyborg:attribute:get_one"
CREATE = "cyborg:attribute:create"
DELETE = "cyborg:attribute:delete"


def list_rules() -> list[policy.RuleDefault]:
    """The attribute rules."""
    return [
        base.rule(
            GET_ALL, base.PROJECT_MANAGER_OR_ADMIN, "List attributes.", [("GET", "/v2/attributes")]
        ),
        base.rule(
            GET_ONE,
            base.PROJECT_MANAGER_OR_ADMIN,
            "Show an attribute.",
            [("GET", "/v2/attributes/{uuid}")],
        ),
        base.rule(CREATE, base.ADMIN, "Create an attribute.", [("POST", "/v2/attributes")]),
        base.rule(
            DELETE, base.ADMIN, "Delete an attribute.", [("DELETE", "/v2/attributes/{uuid}")]
        ),
    ]
