"""``GET /v2/openapi.json``: the OpenAPI 3 document of the whole API, readable without a token."""

from __future__ import annotations

import falcon

from cyborg_lite.api import openapi, util
from cyborg_lite.api.services import Services


class OpenApi:
    """Serves the assembled document, with this service's own base URL as its server."""

    def __init__(self, services: Services) -> None:
        self._conf = services.conf

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The document; ``servers`` names the base URL the caller reached."""
        # The assembled document is cached per process; copy it before adding `servers`.
        document = {**openapi.document(), "servers": [{"url": util.base_url(req, self._conf)}]}
        util.json_body(resp, document)
