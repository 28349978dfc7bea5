"""``/v2/accelerator_requests``: create, list, show, bind/unbind (PATCH) and delete ARQs.

Ownership is the data layer's: a non-admin caller works only on its own project's ARQs.
Bind, unbind, deleting by instance and deleting an ARQ that names an instance also need a
service token (contract §9.3).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import falcon

from cyborg_lite import exception
from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import arqs as rules
from cyborg_lite.api.schemas import arqs as schema
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import arqs as views
from cyborg_lite.arqs import states as arq_states
from cyborg_lite.context import RequestContext
from cyborg_lite.db import arqs as db_arqs
from cyborg_lite.usecases import arqs as arq_cases

LIST_PARAMS = ("instance", "bind_state", "limit", "marker")
BIND_FIELDS = ("hostname", "device_rp_uuid", "instance_uuid")
BIND_PATHS = frozenset(f"/{field}" for field in BIND_FIELDS)
PROJECT_FIELD = "project_id"


def owner_scope(ctx: RequestContext) -> str | None:
    """The project whose ARQs ``ctx`` may act on; None (every project) for an admin."""
    if ctx.is_admin:
        return None
    if not ctx.project_id:
        # Policy already requires a project scope; never let "no project" mean "all".
        raise exception.Forbidden("Accelerator requests need a project-scoped token.")
    return str(ctx.project_id)


def require_service(ctx: RequestContext) -> None:
    """403 unless the request carries a service token (Nova's), CVE-2026-40214."""
    if not ctx.has_service_role:
        raise exception.ServiceTokenRequired()


def parse_bind_state(value: str | None) -> bool:
    """True for ``?bind_state=resolved``; any other value is a 400."""
    if value is None:
        return False
    if value != "resolved":
        raise exception.Invalid(f"Invalid bind_state '{value}': the only filter is 'resolved'.")
    return True


@dataclasses.dataclass(frozen=True)
class Patch:
    """A validated bind/unbind PATCH: ``op`` is ``add`` (bind) or ``remove`` (unbind)."""

    op: str
    binds: dict[str, arq_states.BindTarget]
    unbinds: list[str]


def _value(path: str, op: dict[str, Any]) -> str:
    field = path[1:]
    value: Any = op.get("value")
    if field in ("device_rp_uuid", "instance_uuid"):
        return validation.uuid(value, field)
    if not isinstance(value, str) or not value or len(value) > 255:
        raise exception.Invalid(
            f"Couldn't apply patch. Reason: {path} needs a non-empty string value."
        )
    return value


def parse_patch(body: dict[str, list[dict[str, Any]]], ctx: RequestContext) -> Patch:
    """Check a PATCH body against contract §10.3 and turn it into bind targets or uuids."""
    ops = {op["op"] for ops in body.values() for op in ops}
    if ops not in ({"add"}, {"remove"}):
        raise exception.Invalid("Every op must be add or remove")
    kind = ops.pop()
    binds: dict[str, arq_states.BindTarget] = {}
    for key, arq_ops in body.items():
        uuid = validation.uuid(key)
        fields: dict[str, str] = {}
        for op in arq_ops:
            path = op["path"]
            if path == f"/{PROJECT_FIELD}":
                microversion.require(ctx.microversion, (2, 1))
                if not ctx.is_admin:
                    raise exception.Forbidden(
                        "Only an admin may set project_id on an accelerator request."
                    )
            elif path not in BIND_PATHS:
                raise exception.Invalid(f"Invalid path in patch {path}")
            if kind == "add":
                fields[path[1:]] = _value(path, op)
        if kind == "add":
            absent = [f for f in BIND_FIELDS if f not in fields]
            if absent:
                raise exception.Invalid(
                    f"Couldn't apply patch. Reason: Fields absent in patch {', '.join(absent)}"
                )
            binds[uuid] = arq_states.BindTarget(**fields)
    unbinds = [] if kind == "add" else [validation.uuid(k) for k in body]
    return Patch(op=kind, binds=binds, unbinds=unbinds)


def split_uuids(value: str, field: str) -> list[str]:
    """A comma-separated uuid list, each checked; 400 when empty."""
    uuids = [validation.uuid(u.strip(), field) for u in value.split(",") if u.strip()]
    if not uuids:
        raise exception.Invalid(f"Invalid input for field/attribute {field}: no uuid given.")
    return uuids


class Arqs:
    """The ARQ collection and its items."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._cases = arq_cases.Arqs(services.db, services)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List ARQs, by ``instance`` and/or ``bind_state=resolved``; 423 (no body) when both
        are given and some of the instance's ARQs are still binding."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.GET_ALL, ctx)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        resolved = parse_bind_state(params.get("bind_state"))
        instance = validation.uuid(params["instance"], "instance") if "instance" in params else None
        scope = owner_scope(ctx)
        with self._s.db.transaction() as session:
            if (
                instance
                and resolved
                and db_arqs.has_unresolved(session, instance, project_id=scope)
            ):
                raise exception.Locked()
            found = db_arqs.list_arqs(
                session,
                project_id=scope,
                instance=instance,
                resolved_only=resolved,
                limit=page.limit,
                marker=page.marker,
            )
        base = util.base_url(req, self._s.conf)
        items = [views.serialize(v, base, ctx.microversion) for v in found]
        last = found[-1].arq.uuid if found else None
        util.paged_body(req, resp, self._s.conf, "arqs", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show one ARQ (bare)."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.GET_ONE, ctx)
        with self._s.db.transaction() as session:
            view = db_arqs.get_arq(session, validation.uuid(uuid), project_id=owner_scope(ctx))
        util.json_body(
            resp, views.serialize(view, util.base_url(req, self._s.conf), ctx.microversion)
        )

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Create one ARQ per accelerator the named profile asks for, in the caller's project."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.CREATE, ctx)
        name = validation.body(req, schema.CREATE, self._s.max_body)["device_profile_name"]
        created = self._cases.create(name, project_id=ctx.project_id)
        base = util.base_url(req, self._s.conf)
        items = [views.serialize(v, base, ctx.microversion) for v in created]
        util.json_body(resp, {"arqs": items}, falcon.HTTP_201)

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Bind (``add`` ops) or unbind (``remove`` ops) the ARQs keyed in the body; 202."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.UPDATE, ctx)
        require_service(ctx)
        patch = parse_patch(validation.body(req, schema.PATCH, self._s.max_body), ctx)
        if patch.op == "add":
            self._cases.bind(ctx, patch.binds, project_id=owner_scope(ctx))
        else:
            self._cases.unbind(patch.unbinds, project_id=owner_scope(ctx))
        util.no_content(resp, falcon.HTTP_202)

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """As on the collection: the body's keys name the ARQs, the path uuid is ignored."""
        self.on_patch(req, resp)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Delete ``?arqs=u1,u2`` or every ARQ of ``?instance=`` (exactly one of them)."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.DELETE, ctx)
        params = validation.query(req, ("arqs", "instance"))
        if ("arqs" in params) == ("instance" in params):
            raise exception.Invalid("Give exactly one of the query parameters arqs and instance.")
        if "arqs" in params:
            uuids = split_uuids(params["arqs"], "arqs")
            self._cases.delete(uuids, project_id=owner_scope(ctx), service=ctx.has_service_role)
        else:
            require_service(ctx)
            instance = validation.uuid(params["instance"], "instance")
            self._cases.delete_instance(instance, project_id=owner_scope(ctx))
        util.no_content(resp)

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Delete one ARQ, as ``?arqs=<uuid>`` does."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.DELETE, ctx)
        uuids = [validation.uuid(uuid)]
        self._cases.delete(uuids, project_id=owner_scope(ctx), service=ctx.has_service_role)
        util.no_content(resp)
