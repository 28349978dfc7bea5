"""``/v2/accelerator_pools``: lending pools, their windows and reclaim (microversion 2.7).

Ownership is the use cases' (``usecases.pools``): an admin works on every pool, anyone else
on its own project's pools only (another's is not found, and a list leaves it out).
"""

from __future__ import annotations

from typing import Any

import falcon

from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import lending as rules
from cyborg_lite.api.resources import arqs, usage
from cyborg_lite.api.schemas import pools as schema
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import loans as loan_views
from cyborg_lite.api.views import pools as views
from cyborg_lite.db import loans as db_loans
from cyborg_lite.db import pools as db_pools
from cyborg_lite.usecases import pools as pool_cases

VERSION = (2, 7)
LIST_PARAMS = (*db_pools.POOL_FILTERS, "limit", "marker")


class Pools:
    """The pools collection, items, windows and the reclaim action."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._cases = pool_cases.Pools(services.db, services, clock=lambda: usage.now(services))

    def _begin(self, req: falcon.Request, rule: str) -> tuple[Any, str | None]:
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rule, ctx)
        return ctx, arqs.owner_scope(ctx)

    def _body(self, req: falcon.Request, view: pool_cases.PoolView) -> dict[str, Any]:
        return views.pool_body(view, util.base_url(req, self._s.conf))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Create a pool (201) with the devices its selector reaches now."""
        ctx, project = self._begin(req, rules.CREATE)
        body = validation.body(req, schema.CREATE, self._s.max_body)
        created = self._cases.create(ctx, body, project_id=project)
        util.json_body(resp, self._body(req, created), falcon.HTTP_201)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List the pools the caller may see (``owner_project_id``, ``name``), paged."""
        _, project = self._begin(req, rules.GET_ALL)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        found = self._cases.list(params, project_id=project, limit=page.limit, marker=page.marker)
        bodies = [self._body(req, v) for v in found]
        last = found[-1].pool.uuid if found else None
        util.paged_body(req, resp, self._s.conf, "accelerator_pools", bodies, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show a pool."""
        _, project = self._begin(req, rules.GET_ONE)
        util.json_body(
            resp, self._body(req, self._cases.get(validation.uuid(uuid), project_id=project))
        )

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Change the fields the body names (a new selector re-resolves the devices)."""
        ctx, project = self._begin(req, rules.UPDATE)
        pool_uuid = validation.uuid(uuid)
        body = validation.body(req, schema.UPDATE, self._s.max_body)
        changed = self._cases.update(ctx, pool_uuid, body, project_id=project)
        util.json_body(resp, self._body(req, changed))

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Delete a pool without open loans (204)."""
        ctx, project = self._begin(req, rules.DELETE)
        self._cases.delete(ctx, validation.uuid(uuid), project_id=project)
        util.no_content(resp)

    def on_post_windows(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Add a lending window (201, the window)."""
        ctx, project = self._begin(req, rules.ADD_WINDOW)
        pool_uuid = validation.uuid(uuid)
        body = validation.body(req, schema.WINDOW, self._s.max_body)
        stored = self._cases.add_window(ctx, pool_uuid, body, project_id=project)
        util.json_body(resp, views.window_body(stored), falcon.HTTP_201)

    def on_delete_window(
        self, req: falcon.Request, resp: falcon.Response, uuid: str, window_uuid: str
    ) -> None:
        """Remove a lending window (204)."""
        ctx, project = self._begin(req, rules.REMOVE_WINDOW)
        pool_uuid = validation.uuid(uuid)
        self._cases.remove_window(
            ctx, pool_uuid, validation.uuid(window_uuid, "window_uuid"), project_id=project
        )
        util.no_content(resp)

    def on_post_action(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Reclaim the pool's devices named (all when none are): 202 with the loans now
        reclaiming and the offers withdrawn."""
        ctx, project = self._begin(req, rules.RECLAIM)
        pool_uuid = validation.uuid(uuid)
        body = validation.body(req, schema.ACTION, self._s.max_body)
        devices = body.get("device_uuids")
        if devices is not None:
            devices = [validation.uuid(d, "device_uuids") for d in devices]
        done = self._cases.reclaim(ctx, pool_uuid, devices, project_id=project)
        now = usage.now(self._s)
        with self._s.db.transaction() as session:
            moved = [db_loans.get(session, u) for u in done.reclaiming]
            loans = [loan_views.loan_body(loan, now) for loan in moved]
        answer = {
            "pool_uuid": pool_uuid,
            "reclaim_deadline": util.timestamp(done.deadline),
            "withdrawn_device_uuids": list(done.withdrawn),
            "loans": loans,
        }
        util.json_body(resp, answer, falcon.HTTP_202)
