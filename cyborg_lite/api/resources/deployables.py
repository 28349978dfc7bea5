"""``/v2/deployables``: list and show deployables; ``program`` loads a bitstream onto an FPGA."""

from __future__ import annotations

import json
from typing import Any

import falcon

from cyborg_lite import exception
from cyborg_lite.api import util, validation
from cyborg_lite.api.policies import deployables as rules
from cyborg_lite.api.schemas import deployables as schemas
from cyborg_lite.api.services import Services
from cyborg_lite.db import deployables as db_deployables
from cyborg_lite.firmware import states
from cyborg_lite.usecases import programs

LIST_PARAMS = ("limit", "marker")


def attributes_list(pairs: list[tuple[str, str]]) -> str:
    """Cyborg's ``attributes_list``: a JSON *string* of single-key dicts, in creation order.

    Clients only display it, but some parse it as Cyborg writes it, so the encoding (and
    ``json.dumps``'s default separators) match: ``[{"rc": "PGPU"}, {"trait0": "..."}]``.
    """
    return json.dumps([{key: value} for key, value in pairs])


def serialize(found: db_deployables.WithAttributes, base: str) -> dict[str, Any]:
    """A deployable as Cyborg shows it, with its self and bookmark links."""
    dep = found.deployable
    return {
        "uuid": dep.uuid,
        "name": dep.name,
        "num_accelerators": dep.num_accelerators,
        "device_id": dep.device_id,
        "parent_id": dep.parent_id,
        "root_id": dep.root_id,
        "attributes_list": attributes_list(found.attributes),
        "rp_uuid": dep.rp_uuid,
        "driver_name": dep.driver_name,
        "bitstream_id": dep.bitstream_id,
        "links": [
            *util.self_link(base, "deployables", dep.uuid),
            {"href": f"{base}/deployables/{dep.uuid}", "rel": "bookmark"},
        ],
        "created_at": util.timestamp(dep.created_at),
        "updated_at": util.timestamp(dep.updated_at),
    }


def image_to_program(patch: list[dict[str, Any]]) -> str:
    """The image uuid a validated program patch asks for (Cyborg reads only the first)."""
    return validation.uuid(patch[0]["value"][0]["image_uuid"], "image_uuid")


def job_accepted(started: programs.Started, base: str) -> dict[str, Any]:
    """The 202 body of a load still running after ``[api] program_timeout``: the job and
    where to follow it (the program's rollout, its jobs, the device's firmware history)."""
    rollout = f"{base}/v2/firmware_rollouts/{started.rollout_uuid}"
    return {
        "job_uuid": started.job_uuid,
        "rollout_uuid": started.rollout_uuid,
        "deployable_uuid": started.deployable_uuid,
        "image_uuid": started.image_uuid,
        "links": [
            {"href": f"{rollout}/jobs", "rel": "jobs"},
            {"href": rollout, "rel": "rollout"},
        ],
    }


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
        items = [serialize(f, base) for f in found]
        last = found[-1].deployable.uuid if found else None
        util.paged_body(req, resp, self._s.conf, "deployables", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show one deployable."""
        self._s.enforcer.authorize(rules.GET_ONE, req.context.ctx)
        with self._s.db.transaction() as session:
            found = db_deployables.get_deployable(session, validation.uuid(uuid))
        util.json_body(resp, serialize(found, util.base_url(req, self._s.conf)))

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
                util.json_body(resp, job_accepted(started, base), falcon.HTTP_202)
                return
            if outcome.state != states.SUCCEEDED:
                refuse_failed(started, outcome)
        with self._s.db.transaction() as session:
            found = db_deployables.get_deployable(session, dep_uuid)
        util.json_body(resp, serialize(found, base))
