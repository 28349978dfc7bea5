"""The HTTP client the CLI commands share: a keystoneauth1 adapter on the OSC session.

It sends the microversion each request needs, turns API errors (Cyborg's ``error_message``
envelope, keystonemiddleware's ``error`` object, plain text) into :class:`ApiError` carrying
the API's own message, and pages through lists by following the API's ``Link: rel=next``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import requests
from keystoneauth1 import adapter, session
from osc_lib import exceptions

import cyborg_lite

SERVICE_TYPE = "accelerator"
# The newest microversion this client knows. cyborg-lite serves 2.0-2.7; Cyborg itself 2.0-2.3.
LATEST = (2, 7)
# Rows asked for per request when a list is paged; the API's own [api] max_limit may lower it.
PAGE_SIZE = 1000
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


class ApiError(exceptions.CommandError):
    """The API refused a request; ``str()`` is the API's message with status and request id."""

    def __init__(self, status: int, message: str, request_id: str | None = None) -> None:
        self.status = status
        self.api_message = message
        suffix = f" (HTTP {status})"
        if request_id:
            suffix += f" (Request-ID: {request_id})"
        super().__init__(message + suffix)


def parse_version(text: str) -> tuple[int, int] | None:
    """``"2.4"`` as ``(2, 4)``; None for a bare major version (``"2"``, python-openstackclient's
    own default: no preference). ``latest`` is refused: OSC would look for a command group
    named after it and find no commands."""
    text = text.strip().lower()
    if text == "2":
        return None
    match = _VERSION_RE.match(text)
    if not match or int(match.group(1)) != 2:
        raise exceptions.CommandError(
            f"Invalid accelerator API version {text!r}: use 2.N, e.g. 2.4 (cyborg-lite) or "
            "2.3 (the newest Cyborg serves)."
        )
    return int(match.group(1)), int(match.group(2))


def error_message(resp: requests.Response) -> str:
    """The human message inside an error response, whatever shape the server gave it."""
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner = body.get("error_message")
        if isinstance(inner, str):
            # Cyborg double-encodes: a JSON string holding {faultcode, faultstring, debuginfo},
            # or plain text for router and microversion errors.
            try:
                inner = json.loads(inner)
            except ValueError:
                return inner.strip() or resp.reason
        if isinstance(inner, dict):
            for key in ("faultstring", "description", "message", "title"):
                if inner.get(key):
                    return str(inner[key])
        # keystonemiddleware's 401: {"error": {"code", "title", "message"}}.
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    text = resp.text.strip()
    return text[:500] if text else f"{resp.status_code} {resp.reason}"


class Client:
    """cyborg-lite's REST API through a keystoneauth1 session.

    ``endpoint`` is the service's URL as the catalog (or ``--os-endpoint``) gives it, with
    ``/v2`` (Cyborg's catalog convention) or without it (the API serves both). ``version`` is
    the microversion the user asked for; None sends :data:`LATEST`.
    """

    def __init__(
        self,
        sess: session.Session,
        *,
        endpoint: str | None = None,
        version: tuple[int, int] | None = None,
        region_name: str | None = None,
        interface: str | None = None,
    ) -> None:
        self.version = version
        self._adapter = adapter.Adapter(
            sess,
            service_type=SERVICE_TYPE,
            region_name=region_name,
            interface=interface,
            endpoint_override=endpoint,
            client_name="cyborg-lite-cli",
            client_version=cyborg_lite.__version__,
        )

    def microversion(self, minimum: tuple[int, int] = (2, 0)) -> str:
        """The microversion to send for a request that needs at least ``minimum``."""
        wanted = self.version or LATEST
        if wanted < minimum:
            raise exceptions.CommandError(
                f"This command needs accelerator API microversion {minimum[0]}.{minimum[1]} "
                f"or later; {wanted[0]}.{wanted[1]} was asked (--os-accelerator-api-version)."
            )
        return f"{wanted[0]}.{wanted[1]}"

    def request(
        self,
        method: str,
        path: str,
        *,
        minimum: tuple[int, int] = (2, 0),
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        """One request; raises :class:`ApiError` for any status >= 400."""
        sent = {
            "OpenStack-API-Version": f"{SERVICE_TYPE} {self.microversion(minimum)}",
            "Accept": "application/json",
            **(headers or {}),
        }
        kwargs: dict[str, Any] = {"headers": sent, "raise_exc": False, "stream": stream}
        if body is not None:
            kwargs["json"] = body
        if data is not None:
            kwargs["data"] = data
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        resp: requests.Response = self._adapter.request(path, method, **kwargs)
        if resp.status_code >= 400:
            message = error_message(resp)
            resp.close()
            raise ApiError(resp.status_code, message, resp.headers.get("x-openstack-request-id"))
        return resp

    def get(self, path: str, *, minimum: tuple[int, int] = (2, 0), **params: Any) -> Any:
        """GET a JSON document."""
        return self.request("GET", path, minimum=minimum, params=params).json()

    def post(self, path: str, body: Any, *, minimum: tuple[int, int] = (2, 0)) -> Any:
        """POST a JSON body; the decoded answer, or None when it has no body."""
        resp = self.request("POST", path, minimum=minimum, body=body)
        return resp.json() if resp.content else None

    def patch(self, path: str, body: Any, *, minimum: tuple[int, int] = (2, 0)) -> None:
        """PATCH a JSON body (the ARQ bind/unbind answers 202 with nothing)."""
        self.request("PATCH", path, minimum=minimum, body=body)

    def delete(self, path: str, *, minimum: tuple[int, int] = (2, 0)) -> None:
        """DELETE one resource."""
        self.request("DELETE", path, minimum=minimum)

    def list_all(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        *,
        minimum: tuple[int, int] = (2, 0),
        limit: int | None = None,
        page_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a collection (or the first ``limit``), one page at a time.

        Pages are asked with ``limit``; while a page comes back full the API adds a
        ``Link: <...>; rel="next"`` header, which already carries the filters and the marker.
        """
        size = min(page_size or PAGE_SIZE, limit or PAGE_SIZE)
        query: dict[str, Any] | None = {**(params or {}), "limit": size}
        url = path
        items: list[dict[str, Any]] = []
        while True:
            resp = self.request("GET", url, minimum=minimum, params=query)
            items.extend(resp.json()[key])
            if limit is not None and len(items) >= limit:
                return items[:limit]
            following = resp.links.get("next", {}).get("url")
            if not following:
                return items
            url, query = following, None

    def upload(self, path: str, data: Iterable[bytes], *, minimum: tuple[int, int] = (2, 0)) -> Any:
        """PUT raw bytes (an iterable with ``len()``, so it streams with a Content-Length)."""
        headers = {"Content-Type": "application/octet-stream"}
        return self.request("PUT", path, minimum=minimum, data=data, headers=headers).json()
