"""Policy rules for device profiles."""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

GET_ALL = "cyborg:device_profile:get_all"
GET_ONE = "cyborg:device_profile:get_one"
CREATE = "cyborg:device_profile:create"
DELETE = "cyborg:device_profile:delete"


def list_rules() -> list[policy.RuleDefault]:
    """The device profile rules."""
    return [
        base.rule(
            GET_ALL,
            base.PROJECT_READER_OR_ADMIN,
            "List device profiles.",
            [("GET", "/v2/device_profiles")],
        ),
        base.rule(
            GET_ONE,
            base.PROJECT_READER_OR_ADMIN,
            "Show a device profile.",
            [("GET", "/v2/device_profiles/{uuid_or_name}")],
        ),
        base.rule(
            CREATE, base.ADMIN, "Create a device profile.", [("POST", "/v2/device_profiles")]
        ),
        base.rule(
            DELETE,
            base.ADMIN,
            "Delete device profiles.",
            [
                ("DELETE", "/v2/device_profiles/{uuid_or_names}"),
                ("DELETE", "/v2/device_profiles?value={names}"),
            ],
        ),
    ]
