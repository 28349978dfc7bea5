"""``/v2/deployables``: list and show deployables; ``program`` loads a bitstream onto an FPGA."""

from __future__ import annotations

from typing import Any

import falcon

from cyborg_lite import exception
from cyborg_lite.api import util, validation
from cyborg_lite.api.policies import deployables as rules
from cyborg_lite.api.schemas import deployables as schemas
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import deployables as views
from cyborg_lite.db import deployables as db_deployables
from cyborg_lite.firmware import states
from cyborg_lite.usecases import programs

LIST_PARAMS = ("limit", "marker")


def image_to_program(patch: list[dict[str, Any]]) -> str:
    """The image uuid a validated program patch asks for (Cyborg reads only the first)."""
    return validation.uuid(patch[0]["value"][0]["image_uuid"], "image_uuid")


def refuse_failed(started: programs.Started, outcome: programs.Outcome) -> None:
    """409 for a load that did not happen, with the driver's error code; the deployable
    keeps the function it had."""
    raise exception.Conflict(
        f"Programming deployable {started.deployable_uuid} with image {started.image_uuid} "
        f"failed ({outcome.error_code or outcome.state}): {outcome.error or 'no detail'}. "
        f"The deployable keeps its previous function; see firmware job {started.job_uuid}."
    )


class Deployables:
    """The deployables collection, its items and their ``program`` action."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List deployables, paged on request."""
        self._s.enforcer.authorize(rules.GET_ALL, req.context.ctx)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        with self._s.db.transaction() as session:
            found = db_deployables.list_deployables(session, limit=page.limit, marker=page.marker)
        base = util.base_url(req, self._s.conf)
        items = [views.serialize(f, base) for f in found]
        last = found[-1].deployable.uuid if found else None
        util.paged_body(req, resp, self._s.conf, "deployables", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show one deployable."""
        self._s.enforcer.authorize(rules.GET_ONE, req.context.ctx)
        with self._s.db.transaction() as session:
            found = db_deployables.get_deployable(session, validation.uuid(uuid))
        util.json_body(resp, views.serialize(found, util.base_url(req, self._s.conf)))

    def on_patch_program(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Load a bitstream image onto the deployable's FPGA: 200 with the deployable once the
        agent reported the load within ``[api] program_timeout``, 202 with the job after."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.PROGRAM, ctx)
        dep_uuid = validation.uuid(uuid)
        image_uuid = image_to_program(validation.body(req, schemas.PROGRAM, self._s.max_body))
        with self._s.db.transaction() as session:
            started = programs.start(
                session, dep_uuid, image_uuid, user_id=ctx.user_id, project_id=ctx.project_id
            )
        base = util.base_url(req, self._s.conf)
        if started.job_uuid is not None:
            self._s.wake_conductor(ctx, str(started.rollout_uuid))
            outcome = programs.wait(
                self._s.db, started.job_uuid, float(self._s.conf.api.program_timeout)
            )
            if outcome.state not in states.TERMINAL:
                util.json_body(resp, views.job_accepted(started, base), falcon.HTTP_202)
                return
            if outcome.state != states.SUCCEEDED:
                refuse_failed(started, outcome)
        with self._s.db.transaction() as session:
            found = db_deployables.get_deployable(session, dep_uuid)
        util.json_body(resp, views.serialize(found, base))
