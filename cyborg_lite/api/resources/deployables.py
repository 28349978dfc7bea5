"""``/v2/deployables``: list and show deployables; the ``program`` patch of FPGA regions."""

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


def refuse_program(found: db_deployables.WithAttributes, image_uuid: str) -> None:
    """Programming runs on the deployable's host, through its driver, by the agent; no driver
    offers it yet, so every program request is refused as a conflict with what the deployable
    can do (not a server error: nothing failed)."""
    dep = found.deployable
    raise exception.Conflict(
        f"Programming image {image_uuid} is not available on deployable {dep.uuid}: its "
        f"driver ({dep.driver_name or 'none'}) does not support programming in this release."
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
        """Program an FPGA region with a bitstream image (refused: see ``refuse_program``)."""
        self._s.enforcer.authorize(rules.PROGRAM, req.context.ctx)
        dep_uuid = validation.uuid(uuid)
        image_uuid = image_to_program(validation.body(req, schemas.PROGRAM, self._s.max_body))
        with self._s.db.transaction() as session:
            found = db_deployables.get_deployable(session, dep_uuid)
        refuse_program(found, image_uuid)
