"""``/v2/loans``: the loans of lent devices and their account (microversion 2.7).

An admin sees every loan; anyone else the loans its project owns or borrows (another's is
not found, a list or the account leaves it out).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import falcon

from cyborg_lite import exception
from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import lending as rules
from cyborg_lite.api.resources import arqs, usage
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import loans as views
from cyborg_lite.db import lending_summary
from cyborg_lite.db import loans as db_loans
from cyborg_lite.lending import loans as lending_loans

VERSION = (2, 7)
LIST_PARAMS = (*db_loans.LOAN_FILTERS, "since", "until", "limit", "marker")
SUMMARY_PARAMS = ("since", "until", "group_by")
DEFAULT_PERIOD = dt.timedelta(days=30)
DEFAULT_GROUP_BY = "borrower"


def loan_filters(params: dict[str, str]) -> dict[str, Any]:
    """The list's filters, checked (400 naming the parameter): ``pool_uuid`` a uuid,
    ``state`` a loan state, ``since`` and ``until`` times with since before until."""
    filters: dict[str, Any] = {k: v for k, v in params.items() if k in db_loans.LOAN_FILTERS}
    if "pool_uuid" in filters:
        filters["pool_uuid"] = validation.uuid(filters["pool_uuid"], "pool_uuid")
    if "state" in filters and filters["state"] not in lending_loans.STATES:
        raise exception.Invalid(
            f"Invalid input for field/attribute state. Value: '{filters['state']}'. Must be "
            f"one of: {', '.join(lending_loans.STATES)}."
        )
    for name in ("since", "until"):
        if name in params:
            filters[name] = validation.timestamp(params[name], name)
    if "since" in filters and "until" in filters and filters["since"] >= filters["until"]:
        raise exception.Invalid("Invalid input for field/attribute since: must be before until.")
    return filters


def period(params: dict[str, str], now: dt.datetime) -> tuple[dt.datetime, dt.datetime, str]:
    """The account's ``since``, ``until`` (default the 30 days before now) and ``group_by``
    (default ``borrower``); a bad value is a 400 naming it."""
    until = validation.timestamp(params["until"], "until") if "until" in params else now
    since = (
        validation.timestamp(params["since"], "since")
        if "since" in params
        else until - DEFAULT_PERIOD
    )
    if since >= until:
        raise exception.Invalid("Invalid input for field/attribute since: must be before until.")
    group_by = params.get("group_by", DEFAULT_GROUP_BY)
    if group_by not in lending_summary.GROUP_BY:
        raise exception.Invalid(
            f"Invalid input for field/attribute group_by. Value: '{group_by}'. Must be one "
            f"of: {', '.join(lending_summary.GROUP_BY)}."
        )
    return since, until, group_by


class Loans:
    """The loans collection, items and the account."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def _begin(self, req: falcon.Request, rule: str) -> str | None:
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rule, ctx)
        return arqs.owner_scope(ctx)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List the loans the caller may see, filtered, oldest first, paged."""
        project = self._begin(req, rules.LOAN_GET_ALL)
        params = validation.query(req, LIST_PARAMS)
        filters = loan_filters(params)
        page = util.paging(params, self._s.conf.api.max_limit)
        now = usage.now(self._s)
        with self._s.db.transaction() as session:
            found = db_loans.list_loans(
                session, filters, project_id=project, limit=page.limit, marker=page.marker
            )
            bodies = [views.loan_body(loan, now) for loan in found]
        last = found[-1].uuid if found else None
        util.paged_body(req, resp, self._s.conf, "loans", bodies, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show a loan."""
        project = self._begin(req, rules.LOAN_GET_ONE)
        loan_uuid = validation.uuid(uuid)
        now = usage.now(self._s)
        with self._s.db.transaction() as session:
            body = views.loan_body(db_loans.get(session, loan_uuid, project_id=project), now)
        util.json_body(resp, body)

    def on_get_summary(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The account over a period, grouped by borrower, owner, model or pool."""
        project = self._begin(req, rules.LOAN_SUMMARY)
        params = validation.query(req, SUMMARY_PARAMS)
        now = usage.now(self._s)
        since, until, group_by = period(params, now)
        with self._s.db.transaction() as session:
            groups = lending_summary.summary(
                session, since=since, until=until, group_by=group_by, now=now, project_id=project
            )
        util.json_body(resp, views.summary_body(since, until, group_by, groups))
