"""The version documents at ``/`` and ``/v2``, readable without a token."""

from __future__ import annotations

from typing import Any

import falcon

from cyborg_lite.api import microversion, util
from cyborg_lite.api.services import Services


def _version(base: str) -> dict[str, Any]:
    return {
        "id": "v2",
        "status": "CURRENT",
        "min_version": microversion.fmt(microversion.MIN),
        "max_version": microversion.fmt(microversion.MAX),
        "links": [{"href": f"{base}/v2", "rel": "self"}],
    }


class Root:
    """``GET /``: the service's versions."""

    def __init__(self, services: Services) -> None:
        self._conf = services.conf

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List the one API version, v2."""
        base = util.base_url(req, self._conf)
        version = _version(base)
        util.json_body(
            resp,
            {
                "name": "OpenStack Cyborg API",
                "description": "cyborg-lite: accelerator management with Cyborg's v2 API and "
                "fleet-wide firmware rollout.",
                "versions": [version],
                "default_version": version,
            },
        )


class V2:
    """``GET /v2``: the flat v2 document keystoneauth's discovery reads."""

    def __init__(self, services: Services) -> None:
        self._conf = services.conf

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Describe v2 and its microversion range."""
        base = util.base_url(req, self._conf)
        util.json_body(
            resp,
            {
                "id": "v2.0",
                "links": [{"href": f"{base}/v2/", "rel": "self"}],
                "min_version": microversion.fmt(microversion.MIN),
                "max_version": microversion.fmt(microversion.MAX),
                "status": "CURRENT",
            },
        )
