"""Small helpers shared by resources: links, timestamps, paging parameters, JSON responses."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import falcon
import orjson
from oslo_config import cfg

from cyborg_lite.api import validation


def base_url(req: falcon.Request, conf: cfg.ConfigOpts) -> str:
    """Where clients reach this service: ``[api] public_endpoint`` or the request's base."""
    if conf.api.public_endpoint:
        return str(conf.api.public_endpoint).rstrip("/")
    return f"{req.prefix}{req.root_path or ''}".rstrip("/")


def self_link(base: str, collection: str, uuid: str) -> list[dict[str, str]]:
    """Cyborg's ``links`` list for one object."""
    return [{"href": f"{base}/v2/{collection}/{uuid}", "rel": "self"}]


def timestamp(value: dt.datetime | None) -> str | None:
    """ISO 8601 with a UTC offset (stored values are naive UTC), or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat() + "+00:00"  # as with tzinfo=UTC, without a copy per value
    return value.isoformat()


@dataclasses.dataclass(frozen=True)
class Paging:
    """A page request: at most ``limit`` rows after the row whose uuid is ``marker``."""

    limit: int | None = None
    marker: str | None = None


def paging(params: dict[str, str], max_limit: int) -> Paging:
    """``limit`` and ``marker`` from validated query parameters (both optional)."""
    limit = None
    if "limit" in params:
        limit = min(
            validation.integer(params["limit"], "limit", minimum=1, maximum=None), max_limit
        )
    marker = validation.uuid(params["marker"], "marker") if "marker" in params else None
    return Paging(limit=limit, marker=marker)


def next_link(
    req: falcon.Request, resp: falcon.Response, page: Paging, last_uuid: str | None, count: int
) -> None:
    """Add an RFC 8288 ``Link: <...>; rel="next"`` header when the page was full.

    The body keeps Cyborg's shape (the collection key alone), so clients that do not page
    are unaffected; those that do follow the header or pass the last uuid as ``marker``.
    """
    if page.limit is None or last_uuid is None or count < page.limit:
        return
    query = {k: v for k, v in req.params.items() if k != "marker"}
    query["marker"] = last_uuid
    qs = "&".join(f"{k}={falcon.uri.encode_value(str(v))}" for k, v in query.items())
    resp.append_link(f"{req.prefix}{req.path}?{qs}", "next")


def json_body(resp: falcon.Response, body: Any, status: str = falcon.HTTP_200) -> None:
    """Write ``body`` as compact JSON (UTF-8). orjson: encoding a 1,000-device list with the
    standard library was a fifth of the request's CPU; orjson does it in a tenth of that."""
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = orjson.dumps(body)


def no_content(resp: falcon.Response, status: str = falcon.HTTP_204) -> None:
    """An empty body, without Content-Type (a 204 carries no content)."""
    resp.status = status
    resp.content_type = None
    resp.data = b""
