"""``/v2/firmware_images``: the firmware catalog (microversion 2.4).

Registering an image and uploading its bytes are two steps, as in Glance: ``POST`` records the
metadata (``queued``), ``PUT .../file`` streams the bytes, which are checked before the image
becomes ``active`` (``usecases/firmware_images.py``). A refused upload stores nothing.
"""

from __future__ import annotations

from typing import Any

import falcon

from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import firmware_images as rules
from cyborg_lite.api.schemas import firmware_images as schema
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import firmware_images as views
from cyborg_lite.db import firmware_images as db_images
from cyborg_lite.usecases import firmware_images as image_cases

VERSION = (2, 4)
LIST_PARAMS = (*db_images.FILTERS, "limit", "marker")


class FirmwareImages:
    """The catalog collection, its items, and their bytes."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._cases = image_cases.FirmwareImages(services.conf, services.db)

    def _begin(self, req: falcon.Request, rule: str) -> Any:
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rule, ctx)
        return ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Register an image's metadata; 201 with ``status: queued``."""
        ctx = self._begin(req, rules.CREATE)
        body = validation.body(req, schema.CREATE, self._s.max_body)
        image = self._cases.register(ctx, body)
        util.json_body(
            resp, views.serialize(image, util.base_url(req, self._s.conf)), falcon.HTTP_201
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List images, filtered by name, vendor, component, version, status."""
        self._begin(req, rules.GET_ALL)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        with self._s.db.transaction() as session:
            found = db_images.list_images(session, params, limit=page.limit, marker=page.marker)
        base = util.base_url(req, self._s.conf)
        items = [views.serialize(i, base) for i in found]
        last = found[-1].uuid if found else None
        util.paged_body(req, resp, self._s.conf, "firmware_images", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show one image."""
        self._begin(req, rules.GET_ONE)
        with self._s.db.transaction() as session:
            image = db_images.get(session, validation.uuid(uuid))
        util.json_body(resp, views.serialize(image, util.base_url(req, self._s.conf)))

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Delete an image and, when no other image shares them, its bytes."""
        self._begin(req, rules.DELETE)
        self._cases.delete(validation.uuid(uuid))
        util.no_content(resp)

    def on_put_file(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Receive the image's bytes, verify them, and activate the image."""
        ctx = self._begin(req, rules.UPLOAD)
        uuid = validation.uuid(uuid)
        image = self._cases.upload(ctx, uuid, validation.body_stream(req), req.content_length)
        util.json_body(resp, views.serialize(image, util.base_url(req, self._s.conf)))

    def on_get_file(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Stream the image's bytes back (agents download from here before flashing)."""
        self._begin(req, rules.DOWNLOAD)
        download = self._cases.download(validation.uuid(uuid))
        resp.content_type = "application/octet-stream"
        resp.set_header("X-Image-Sha256", download.sha256)
        resp.set_header("ETag", f'"{download.sha256}"')
        resp.set_stream(download.file, download.size)
