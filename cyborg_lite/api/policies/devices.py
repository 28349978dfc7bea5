"""Policy rules for devices."""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

GET_ALL = "cyborg:device:get_all"
GET_ONE = "cyborg:device:get_one"
DISABLE = "cyborg:device:disable"
ENABLE = "cyborg:device:enable"


def list_rules() -> list[policy.RuleDefault]:
    """The device rules."""
    return [
        base.rule(
            GET_ALL, base.PROJECT_MANAGER_OR_ADMIN, "List devices.", [("GET", "/v2/devices")]
        ),
        base.rule(
            GET_ONE,
            base.PROJECT_MANAGER_OR_ADMIN,
            "Show a device.",
            [("GET", "/v2/devices/{uuid}")],
        ),
        base.rule(
            DISABLE,
            base.ADMIN,
            "Put a device in maintenance.",
            [("POST", "/v2/devices/{uuid}/disable")],
        ),
        base.rule(
            ENABLE,
            base.ADMIN,
            "Take a device out of maintenance.",
            [("POST", "/v2/devices/{uuid}/enable")],
        ),
    ]
