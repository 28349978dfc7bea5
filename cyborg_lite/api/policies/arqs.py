"""Policy rules for accelerator requests (ARQs).

Ownership is enforced in the data layer (non-admins see only their project's ARQs), and bind,
unbind and deleting bound ARQs also need a service token, checked in code.
"""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

GET_ALL = "cyborg:arq:get_all"
GET_ONE = "cyborg:arq:get_one"
CREATE = "cyborg:arq:create"
UPDATE = "cyborg:arq:update"
DELETE = "cyborg:arq:delete"


def list_rules() -> list[policy.RuleDefault]:
    """The ARQ rules."""
    return [
        base.rule(
            GET_ALL,
            base.PROJECT_READER_OR_ADMIN,
            "List accelerator requests.",
            [("GET", "/v2/accelerator_requests")],
        ),
        base.rule(
            GET_ONE,
            base.PROJECT_READER_OR_ADMIN,
            "Show an accelerator request.",
            [("GET", "/v2/accelerator_requests/{uuid}")],
        ),
        base.rule(
            CREATE,
            base.PROJECT_MEMBER_OR_SERVICE,
            "Create accelerator requests.",
            [("POST", "/v2/accelerator_requests")],
        ),
        base.rule(
            UPDATE,
            base.PROJECT_MEMBER_OR_SERVICE,
            "Bind or unbind accelerator requests (a service token is also required).",
            [("PATCH", "/v2/accelerator_requests"), ("PATCH", "/v2/accelerator_requests/{uuid}")],
        ),
        base.rule(
            DELETE,
            base.PROJECT_MEMBER_OR_SERVICE,
            "Delete accelerator requests (a service token is required for bound ones "
            "and for deleting by instance).",
            [
                ("DELETE", "/v2/accelerator_requests?arqs={uuids}"),
                ("DELETE", "/v2/accelerator_requests?instance={uuid}"),
                ("DELETE", "/v2/accelerator_requests/{uuid}"),
            ],
        ),
    ]
