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


def next_href(
    req: falcon.Request, conf: cfg.ConfigOpts, page: Paging, last_marker: str | None, count: int
) -> str | None:
    """The URL of the page after a full one (the same filters, ``marker`` = its last row),
    or None when the page was not full or not asked for."""
    if page.limit is None or last_marker is None or count < page.limit:
        return None
    query = {k: v for k, v in req.params.items() if k != "marker"}
    query["marker"] = last_marker
    qs = "&".join(f"{k}={falcon.uri.encode_value(str(v))}" for k, v in query.items())
    return f"{base_url(req, conf)}{req.path}?{qs}"


def paged_body(
    req: falcon.Request,
    resp: falcon.Response,
    conf: cfg.ConfigOpts,
    key: str,
    items: list[Any],
    page: Paging,
    last_marker: str | None,
) -> None:
    """Write a list page: ``{key: items}``, Cyborg's shape, and after a full page the way on.

    The next page is named twice. In the body as Nova names it, ``<key>_links: [{"rel":
    "next", "href": ...}]``: openstacksdk reads that first, and it could not read the RFC 8288
    ``Link: <...>; rel="next"`` header (4.22 looks for ``links["next"]["uri"]``, where
    requests parses ``url``). And in that header, which the CLI and plain HTTP clients follow.
    Clients that do not page see one key more on a full page, which Cyborg's clients ignore.
    """
    body: dict[str, Any] = {key: items}
    href = next_href(req, conf, page, last_marker, len(items))
    if href is not None:
        body[f"{key}_links"] = [{"rel": "next", "href": href}]
        resp.append_link(href, "next")
    json_body(resp, body)


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
