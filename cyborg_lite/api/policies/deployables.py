"""Policy rules for deployables."""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

GET_ALL = "cyborg:deployable:get_all"
GET_ONE = "cyborg:deployable:get_one"
PROGRAM = "cyborg:deployable:program"


def list_rules() -> list[policy.RuleDefault]:
    """The deployable rules."""
    return [
        base.rule(
            GET_ALL,
            base.PROJECT_MANAGER_OR_ADMIN,
            "List deployables.",
            [("GET", "/v2/deployables")],
        ),
        base.rule(
            GET_ONE,
            base.PROJECT_MANAGER_OR_ADMIN,
            "Show a deployable.",
            [("GET", "/v2/deployables/{uuid}")],
        ),
        base.rule(
            PROGRAM,
            base.ADMIN,
            "Program an FPGA deployable.",
            [("PATCH", "/v2/deployables/{uuid}/program")],
        ),
    ]
