"""``/v2/attributes``: list, show, create and delete key/value attributes of deployables."""

from __future__ import annotations

from typing import Any

import falcon

from cyborg_lite.api import util, validation
from cyborg_lite.api.policies import attributes as rules
from cyborg_lite.api.schemas import attributes as schemas
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import attributes as views
from cyborg_lite.db import attributes as db_attributes

LIST_PARAMS = ("deployable_id", "key", "limit", "marker")


def unwrap(body: Any) -> Any:
    """The attribute from a bare body or from openstacksdk's ``{"attribute": {...}}``."""
    if isinstance(body, dict) and list(body) == [schemas.WRAPPER_KEY]:
        return body[schemas.WRAPPER_KEY]
    return body


def deployable_ref(value: int | str) -> int | str:
    """A validated ``deployable_id``: the internal id (an integer, or a decimal string of one),
    or a uuid in canonical form."""
    if isinstance(value, str):
        if value.isdecimal():
            return validation.integer(value, "deployable_id", 1)
        return validation.uuid(value, "deployable_id")
    return int(value)  # JSON Schema counts 1.0 as an integer


class Attributes:
    """The attributes collection and its items."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List attributes, filtered by ``deployable_id`` (int) and ``key``; paged on request."""
        self._s.enforcer.authorize(rules.GET_ALL, req.context.ctx)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        deployable_id = None
        if "deployable_id" in params:
            deployable_id = validation.integer(params["deployable_id"], "deployable_id", 1)
        with self._s.db.transaction() as session:
            found = db_attributes.list_attributes(
                session,
                deployable_id=deployable_id,
                key=params.get("key"),
                limit=page.limit,
                marker=page.marker,
            )
        base = util.base_url(req, self._s.conf)
        items = [views.serialize(a, base) for a in found]
        last = found[-1].uuid if found else None
        util.paged_body(req, resp, self._s.conf, "attributes", items, page, last)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Create an attribute on a deployable; 201 with the attribute, bare."""
        self._s.enforcer.authorize(rules.CREATE, req.context.ctx)
        body = validation.check(schemas.CREATE, unwrap(validation.read_json(req, self._s.max_body)))
        ref = deployable_ref(body["deployable_id"])
        with self._s.db.transaction() as session:
            created = db_attributes.create_attribute(session, ref, body["key"], body["value"])
        util.json_body(
            resp, views.serialize(created, util.base_url(req, self._s.conf)), falcon.HTTP_201
        )

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show one attribute."""
        self._s.enforcer.authorize(rules.GET_ONE, req.context.ctx)
        with self._s.db.transaction() as session:
            found = db_attributes.get_attribute(session, validation.uuid(uuid))
        util.json_body(resp, views.serialize(found, util.base_url(req, self._s.conf)))

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Delete one attribute; 204, empty."""
        self._s.enforcer.authorize(rules.DELETE, req.context.ctx)
        with self._s.db.transaction() as session:
            db_attributes.delete_attribute(session, validation.uuid(uuid))
        util.no_content(resp)
