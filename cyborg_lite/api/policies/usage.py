"""Policy rules for accelerator usage (microversion 2.6).

Ownership is the data layer's, as for ARQs: an admin sees every device's usage; anyone else
only that of devices bound to their own project's ARQs (the summary counts those alone, and
another device's series is not found).
"""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

GET_SUMMARY = "cyborg:usage:get_summary"
GET_DEVICE = "cyborg:usage:get_device"


def list_rules() -> list[policy.RuleDefault]:
    """The usage rules."""
    return [
        base.rule(
            GET_SUMMARY,
            base.PROJECT_READER_OR_ADMIN,
            "Show the fleet's usage summary (a project sees its own ARQs' devices).",
            [("GET", "/v2/usage")],
        ),
        base.rule(
            GET_DEVICE,
            base.PROJECT_READER_OR_ADMIN,
            "Show a device's usage series (a project sees its own ARQs' devices).",
            [("GET", "/v2/devices/{uuid}/usage")],
        ),
    ]
