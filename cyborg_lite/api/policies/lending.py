"""Policy rules for lending (microversion 2.7): accelerator pools, their windows, reclaim, and
loans with their account.

Ownership is the data layer's, as for ARQs: an admin manages every pool and sees every loan;
anyone else manages only its own project's pools (another's is not found, a list leaves it
out) and sees only the loans its project owns or borrows. The rules below only say which
roles may try.
"""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

CREATE = "cyborg:accelerator_pool:create"
GET_ALL = "cyborg:accelerator_pool:get_all"
GET_ONE = "cyborg:accelerator_pool:get_one"
UPDATE = "cyborg:accelerator_pool:update"
DELETE = "cyborg:accelerator_pool:delete"
ADD_WINDOW = "cyborg:accelerator_pool:add_window"
REMOVE_WINDOW = "cyborg:accelerator_pool:remove_window"
RECLAIM = "cyborg:accelerator_pool:reclaim"
LOAN_GET_ALL = "cyborg:loan:get_all"
LOAN_GET_ONE = "cyborg:loan:get_one"
LOAN_SUMMARY = "cyborg:loan:get_summary"

_POOL = "/v2/accelerator_pools"
_OWN = " (a project: its own pools)"
_LOANS = " (a project: the loans it owns or borrows)"


def list_rules() -> list[policy.RuleDefault]:
    """The lending rules."""
    member, reader = base.PROJECT_MEMBER_OR_ADMIN, base.PROJECT_READER_OR_ADMIN
    return [
        base.rule(CREATE, member, "Create an accelerator pool" + _OWN + ".", [("POST", _POOL)]),
        base.rule(GET_ALL, reader, "List accelerator pools" + _OWN + ".", [("GET", _POOL)]),
        base.rule(
            GET_ONE, reader, "Show an accelerator pool" + _OWN + ".", [("GET", f"{_POOL}/{{uuid}}")]
        ),
        base.rule(
            UPDATE,
            member,
            "Change an accelerator pool" + _OWN + ".",
            [("PATCH", f"{_POOL}/{{uuid}}")],
        ),
        base.rule(
            DELETE,
            member,
            "Delete an accelerator pool" + _OWN + ".",
            [("DELETE", f"{_POOL}/{{uuid}}")],
        ),
        base.rule(
            ADD_WINDOW,
            member,
            "Add a lending window to a pool" + _OWN + ".",
            [("POST", f"{_POOL}/{{uuid}}/windows")],
        ),
        base.rule(
            REMOVE_WINDOW,
            member,
            "Remove a lending window of a pool" + _OWN + ".",
            [("DELETE", f"{_POOL}/{{uuid}}/windows/{{window_uuid}}")],
        ),
        base.rule(
            RECLAIM,
            member,
            "Reclaim a pool's lent devices early" + _OWN + ".",
            [("POST", f"{_POOL}/{{uuid}}/action")],
        ),
        base.rule(LOAN_GET_ALL, reader, "List loans" + _LOANS + ".", [("GET", "/v2/loans")]),
        base.rule(
            LOAN_GET_ONE, reader, "Show a loan" + _LOANS + ".", [("GET", "/v2/loans/{uuid}")]
        ),
        base.rule(
            LOAN_SUMMARY,
            reader,
            "The account of loans, grouped" + _LOANS + ".",
            [("GET", "/v2/loans/summary")],
        ),
    ]
