"""``/v2/firmware_rollouts``: plan (dry run), start, watch and steer firmware rollouts (2.4)."""

from __future__ import annotations

from typing import Any

import falcon
from oslo_log import log as logging

from cyborg_lite import exception
from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import rollouts as rules
from cyborg_lite.api.schemas import rollouts as schema
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import rollouts as views
from cyborg_lite.db import models
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.firmware import states
from cyborg_lite.usecases import rollouts as rollout_cases

LOG = logging.getLogger(__name__)
VERSION = (2, 4)
LIST_PARAMS = (*db_rollouts.ROLLOUT_FILTERS, "limit", "marker")
JOB_PARAMS = (*db_rollouts.JOB_FILTERS, "limit", "marker")


def job_filters(params: dict[str, str]) -> dict[str, Any]:
    """The jobs filters, checked: ``wave`` is an integer, ``state`` a job state."""
    filters: dict[str, Any] = {k: v for k, v in params.items() if k in db_rollouts.JOB_FILTERS}
    if "wave" in filters:
        filters["wave"] = validation.integer(filters["wave"], "wave", minimum=0)
    if "state" in filters and filters["state"] not in states.JOB_STATES:
        raise exception.Invalid(
            f"Unknown job state {filters['state']!r}; one of {', '.join(states.JOB_STATES)}."
        )
    return filters


class Rollouts:
    """The rollouts collection, items, jobs and actions."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._cases = rollout_cases.Rollouts(services.db, services)

    def _begin(self, req: falcon.Request, rule: str) -> Any:
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rule, ctx)
        return ctx

    def _bodies(self, req: falcon.Request, found: list[models.Rollout], session: Any) -> list[Any]:
        progress = db_rollouts.progress(session, [r.id for r in found])
        base, now = util.base_url(req, self._s.conf), self._s.clock()
        return [views.rollout_body(r, progress[r.id], base, now) for r in found]

    def _body(self, req: falcon.Request, tracked: rollout_cases.Tracked) -> dict[str, Any]:
        base, now = util.base_url(req, self._s.conf), self._s.clock()
        return views.rollout_body(tracked.rollout, tracked.progress, base, now)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Dry run (200, the plan) or start a rollout (201)."""
        ctx = self._begin(req, rules.CREATE)
        body = validation.body(req, schema.CREATE, self._s.max_body)
        image_uuid = validation.uuid(body["image_uuid"], "image_uuid")
        selector, strategy = body["selector"], body.get("strategy")
        if body.get("dry_run"):
            planned = self._cases.dry_run(image_uuid, selector, strategy)
            util.json_body(
                resp, views.plan_body(planned.plan, planned.strategy, planned.image_uuid)
            )
            return
        created = self._cases.create(ctx, image_uuid, selector, strategy)
        util.json_body(resp, self._body(req, created), falcon.HTTP_201)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List rollouts (``state``, ``image_uuid``), paged."""
        self._begin(req, rules.GET_ALL)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        with self._s.db.transaction() as session:
            found = db_rollouts.list_rollouts(session, params, limit=page.limit, marker=page.marker)
            bodies = self._bodies(req, found, session)
        last = found[-1].uuid if found else None
        util.paged_body(req, resp, self._s.conf, "firmware_rollouts", bodies, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show a rollout with its progress."""
        self._begin(req, rules.GET_ONE)
        with self._s.db.transaction() as session:
            rollout = db_rollouts.get(session, validation.uuid(uuid))
            body = self._bodies(req, [rollout], session)[0]
        util.json_body(resp, body)

    def on_get_jobs(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """A rollout's jobs, filtered by state, wave, hostname, device_uuid; paged."""
        self._begin(req, rules.JOBS)
        params = validation.query(req, JOB_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        with self._s.db.transaction() as session:
            rollout = db_rollouts.get(session, validation.uuid(uuid))
            jobs = db_rollouts.list_jobs(
                session, rollout, job_filters(params), limit=page.limit, marker=page.marker
            )
        items = [views.job_body(j, rollout.uuid) for j in jobs]
        last = jobs[-1].uuid if jobs else None
        util.paged_body(req, resp, self._s.conf, "jobs", items, page, last)

    def on_post_action(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Pause, resume, abort (200 with the rollout) or roll back (201 with new rollouts)."""
        ctx = self._begin(req, rules.ACTION)
        action = validation.body(req, schema.ACTION, self._s.max_body)["action"]
        changed = self._cases.act(ctx, validation.uuid(uuid), action)
        bodies = [self._body(req, tracked) for tracked in changed]
        if action == "rollback":
            util.json_body(resp, {"firmware_rollouts": bodies}, falcon.HTTP_201)
        else:
            util.json_body(resp, bodies[0])
