"""OpenAPI for lending (microversion 2.7): accelerator pools, their windows and reclaim, loans
and their account."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import (
    NEXT_LINK_HEADER,
    NO_CONTENT,
    PAGING,
    errors,
    json_response,
    operation,
    page_properties,
    query,
    ref,
    request_schema,
    uuid_path,
)
from cyborg_lite.api.policies import lending as rules
from cyborg_lite.api.schemas import pools as request
from cyborg_lite.db import lending_summary
from cyborg_lite.lending import loans as lending_loans
from cyborg_lite.lending import pools as lending_pools

_S = {"type": "string"}
_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {**_TIME, "nullable": True}
_NUM = {"type": "number", "nullable": True}
_POOLS_SCOPE = (
    "An admin works on every pool; anyone else on its own project's pools only (another's "
    "is 404, a list leaves it out). Needs microversion 2.7."
)
_LOANS_SCOPE = (
    "An admin sees every loan; anyone else the loans its project owns or borrows (another's "
    "is 404, a list and the account leave it out). Needs microversion 2.7."
)


def _closed(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_WINDOW = {
    "type": "object",
    "description": "A weekly window (days, start, end) or a one-off one (starts_at, ends_at).",
    "properties": {
        "uuid": _UUID,
        "kind": {"enum": ["weekly", "once"]},
        "days": {"type": "array", "items": _S},
        "start": _S,
        "end": _S,
        "starts_at": _TIME,
        "ends_at": _TIME,
    },
    "required": ["uuid", "kind"],
    "additionalProperties": False,
}

_LOAN = _closed(
    {
        "uuid": _UUID,
        "pool_uuid": _UUID,
        "device_uuid": _UUID,
        "owner_project_id": _S,
        "borrower_project_id": _S,
        "arq_uuid": _UUID,
        "instance_uuid": {**_UUID, "nullable": True},
        "state": {"enum": list(lending_loans.STATES)},
        "started_at": _TIME,
        "reclaim_deadline": {**_NTIME, "description": "Set once reclaiming."},
        "ended_at": {**_NTIME, "description": "Set once closed."},
        "duration_seconds": {
            "type": "number",
            "minimum": 0,
            "description": "Until ended_at, or until now while open.",
        },
        "energy_kwh": {**_NUM, "description": "Set when closed, where the power was known."},
    }
)

SCHEMAS: dict[str, Any] = {
    "PoolCreate": request_schema(request.CREATE),
    "PoolUpdate": request_schema(request.UPDATE),
    "PoolWindowCreate": request_schema(request.WINDOW),
    "PoolAction": request_schema(request.ACTION),
    "PoolWindow": _WINDOW,
    "Pool": _closed(
        {
            "uuid": _UUID,
            "name": _S,
            "owner_project_id": _S,
            "selector": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": _S},
            },
            "borrower_project_ids": {"type": "array", "items": _S, "nullable": True},
            "reserve": {
                "type": "object",
                "properties": {"count": {"type": "integer"}, "share": {"type": "number"}},
                "additionalProperties": False,
            },
            "min_idle_seconds": {"type": "integer"},
            "notice_seconds": {"type": "integer"},
            "on_reclaim": {"enum": list(lending_pools.ON_RECLAIM)},
            "timezone": _S,
            "trait": {**_S, "description": "CUSTOM_CYBORG_POOL_<NAME> of its offered devices."},
            "device_uuids": {
                "type": "array",
                "items": _UUID,
                "description": "The pool's devices (its selector resolved), sorted.",
            },
            "device_count": {"type": "integer", "minimum": 0},
            "windows": {"type": "array", "items": ref("PoolWindow")},
            "open_now": {"type": "boolean", "description": "A window is open now."},
            "created_at": ref("Timestamp"),
            "updated_at": ref("Timestamp"),
            "links": ref("Links"),
        }
    ),
    "PoolList": {
        "type": "object",
        "required": ["accelerator_pools"],
        "properties": page_properties("accelerator_pools", "Pool"),
    },
    "Reclaim": _closed(
        {
            "pool_uuid": _UUID,
            "reclaim_deadline": {**_TIME, "description": "Now plus the pool's notice_seconds."},
            "withdrawn_device_uuids": {
                "type": "array",
                "items": _UUID,
                "description": "Devices whose offer was withdrawn at once.",
            },
            "loans": {
                "type": "array",
                "items": ref("Loan"),
                "description": "The loans this reclaim moved to reclaiming.",
            },
        }
    ),
    "Loan": _LOAN,
    "LoanList": {
        "type": "object",
        "required": ["loans"],
        "properties": page_properties("loans", "Loan"),
    },
    "LoanSummary": _closed(
        {
            "since": _TIME,
            "until": _TIME,
            "group_by": {"enum": list(lending_summary.GROUP_BY)},
            "groups": {
                "type": "array",
                "items": _closed(
                    {
                        "key": {**_S, "nullable": True},
                        "loans": {"type": "integer", "minimum": 0},
                        "device_seconds": {"type": "number", "minimum": 0},
                        "energy_kwh": {
                            **_NUM,
                            "description": "Of the loans closed with a known energy; null "
                            "when none: unknown is not zero.",
                        },
                    }
                ),
            },
        }
    ),
}

_TAG = "lending"
_ITEM = [uuid_path(description="The pool's uuid.")]
_TIME_PARAM = {"type": "string", "format": "date-time"}

PATHS: dict[str, Any] = {
    "/v2/accelerator_pools": {
        "post": operation(
            "Create a lending pool of devices (a device is in at most one pool).",
            _TAG,
            {
                "201": json_response("The pool.", ref("Pool")),
                **errors(400, 403, 406, 409),
            },
            body=ref("PoolCreate"),
            policy=rules.CREATE,
            notes=_POOLS_SCOPE + " 409 names the device and the other pool, or the name.",
        ),
        "get": operation(
            "List lending pools.",
            _TAG,
            {
                "200": json_response("The pools.", ref("PoolList"), NEXT_LINK_HEADER),
                **errors(400, 403, 406),
            },
            parameters=[
                query("owner_project_id", "Only this project's pools."),
                query("name", "Only the pool of this name."),
                *PAGING,
            ],
            policy=rules.GET_ALL,
            notes=_POOLS_SCOPE,
        ),
    },
    "/v2/accelerator_pools/{uuid}": {
        "get": operation(
            "Show a pool: its fields, devices, windows and whether one is open now.",
            _TAG,
            {"200": json_response("The pool.", ref("Pool")), **errors(400, 403, 404, 406)},
            parameters=_ITEM,
            policy=rules.GET_ONE,
            notes=_POOLS_SCOPE,
        ),
        "patch": operation(
            "Change a pool's fields (a selector re-resolves its devices).",
            _TAG,
            {"200": json_response("The pool.", ref("Pool")), **errors(400, 403, 404, 406, 409)},
            parameters=_ITEM,
            body=ref("PoolUpdate"),
            policy=rules.UPDATE,
            notes=_POOLS_SCOPE,
        ),
        "delete": operation(
            "Delete a pool (409 while it has open loans).",
            _TAG,
            {"204": NO_CONTENT, **errors(400, 403, 404, 406, 409)},
            parameters=_ITEM,
            policy=rules.DELETE,
            notes=_POOLS_SCOPE,
        ),
    },
    "/v2/accelerator_pools/{uuid}/windows": {
        "post": operation(
            "Add a lending window to a pool.",
            _TAG,
            {"201": json_response("The window.", ref("PoolWindow")), **errors(400, 403, 404, 406)},
            parameters=_ITEM,
            body=ref("PoolWindowCreate"),
            policy=rules.ADD_WINDOW,
            notes=_POOLS_SCOPE + " A bad day, time, or an end not after the start is a 400 "
            "naming the field.",
        )
    },
    "/v2/accelerator_pools/{uuid}/windows/{window_uuid}": {
        "delete": operation(
            "Remove a pool's lending window.",
            _TAG,
            {"204": NO_CONTENT, **errors(400, 403, 404, 406)},
            parameters=[*_ITEM, uuid_path("window_uuid", "The window's uuid.")],
            policy=rules.REMOVE_WINDOW,
            notes=_POOLS_SCOPE,
        )
    },
    "/v2/accelerator_pools/{uuid}/action": {
        "post": operation(
            "Reclaim lent devices early: offers withdrawn at once, active loans reclaiming "
            "with the pool's notice.",
            _TAG,
            {
                "202": json_response("The loans now reclaiming.", ref("Reclaim")),
                **errors(400, 403, 404, 406),
            },
            parameters=_ITEM,
            body=ref("PoolAction"),
            policy=rules.RECLAIM,
            notes=_POOLS_SCOPE,
        )
    },
    "/v2/loans": {
        "get": operation(
            "List loans, oldest first.",
            _TAG,
            {
                "200": json_response("The loans.", ref("LoanList"), NEXT_LINK_HEADER),
                **errors(400, 403, 406),
            },
            parameters=[
                query("pool_uuid", "Only this pool's loans.", _UUID),
                query("borrower_project_id", "Only this borrower's loans."),
                query("owner_project_id", "Only this owner's loans."),
                query(
                    "state",
                    "Only loans in this state.",
                    {"type": "string", "enum": list(lending_loans.STATES)},
                ),
                query(
                    "since", "Loans overlapping [since, until): not ended by since.", _TIME_PARAM
                ),
                query("until", "Loans started before until.", _TIME_PARAM),
                *PAGING,
            ],
            policy=rules.LOAN_GET_ALL,
            notes=_LOANS_SCOPE,
        )
    },
    "/v2/loans/summary": {
        "get": operation(
            "The account of loans over a period, grouped.",
            _TAG,
            {"200": json_response("The account.", ref("LoanSummary")), **errors(400, 403, 406)},
            parameters=[
                query("since", "ISO 8601; default 30 days before until.", _TIME_PARAM),
                query("until", "ISO 8601, excluded; default now.", _TIME_PARAM),
                query(
                    "group_by",
                    "borrower (default), owner, model or pool.",
                    {"type": "string", "enum": list(lending_summary.GROUP_BY)},
                ),
            ],
            policy=rules.LOAN_SUMMARY,
            notes=_LOANS_SCOPE + " Each loan's seconds are clipped to the period.",
        )
    },
    "/v2/loans/{uuid}": {
        "get": operation(
            "Show a loan.",
            _TAG,
            {"200": json_response("The loan.", ref("Loan")), **errors(400, 403, 404, 406)},
            parameters=[uuid_path(description="The loan's uuid.")],
            policy=rules.LOAN_GET_ONE,
            notes=_LOANS_SCOPE,
        )
    },
}
