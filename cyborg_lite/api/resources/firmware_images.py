"""``/v2/firmware_images``: the firmware catalog (microversion 2.4).

Registering an image and uploading its bytes are two steps, as in Glance: ``POST`` records the
metadata (``queued``), ``PUT .../file`` streams the bytes, which are hashed on the way and
checked against the given sha256 and, where configured, a trusted signature, before the image
becomes ``active``. A refused upload stores nothing.
"""

from __future__ import annotations

import json
from typing import Any

import falcon

from cyborg_lite import exception
from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import firmware_images as rules
from cyborg_lite.api.schemas import firmware_images as schema
from cyborg_lite.api.services import Services
from cyborg_lite.db import firmware_images as db_images
from cyborg_lite.db import models
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.firmware import signing, store

VERSION = (2, 4)
BITSTREAM = "bitstream"
LIST_PARAMS = (*db_images.FILTERS, "limit", "marker")


def serialize(image: models.FirmwareImage, base: str) -> dict[str, Any]:
    """An image as the API shows it (the signature text itself is not echoed)."""
    return {
        "uuid": image.uuid,
        "name": image.name,
        "vendor": image.vendor,
        "component": image.component,
        "version": image.version,
        "compatibility": {
            "device_ids": json.loads(image.device_ids),
            "models": json.loads(image.models),
            "min_version": image.min_version,
            "function_id": image.function_id,
            "pr_interface_ids": json.loads(image.pr_interface_ids or "[]"),
        },
        "sha256": image.sha256,
        "size": image.size,
        "signed": image.signed,
        "status": image.status,
        "created_by": {"user_id": image.created_by_user, "project_id": image.created_by_project},
        "uploaded_by": (
            {"user_id": image.uploaded_by_user, "project_id": image.uploaded_by_project}
            if image.status == "active"
            else None
        ),
        "links": util.self_link(base, "firmware_images", image.uuid),
        "created_at": util.timestamp(image.created_at),
        "updated_at": util.timestamp(image.updated_at),
    }


def normalise(body: dict[str, Any]) -> dict[str, Any]:
    """The create body's compatibility, from the ``compatibility`` object or top-level keys;
    ids lower-case without ``0x``. At least one of device_ids and models is required, so an
    image can never target "everything"."""
    compat = dict(body.get("compatibility") or {})
    for key in ("device_ids", "models", "min_version", "function_id", "pr_interface_ids"):
        if key in body:
            compat.setdefault(key, body[key])
    device_ids = [d.lower().removeprefix("0x") for d in compat.get("device_ids", [])]
    board_models = list(compat.get("models", []))
    if not device_ids and not board_models:
        raise exception.Invalid(
            "An image needs compatibility: 'device_ids' (PCI device ids) and/or 'models'."
        )
    bitstream_only = [k for k in ("function_id", "pr_interface_ids") if compat.get(k)]
    if bitstream_only and body["component"] != BITSTREAM:
        raise exception.Invalid(
            f"{' and '.join(bitstream_only)} describe bitstreams; this image's component is "
            f"{body['component']!r}, not {BITSTREAM!r}."
        )
    return {
        "name": body["name"],
        "vendor": body["vendor"].lower().removeprefix("0x"),
        "component": body["component"],
        "version": body["version"],
        "device_ids": device_ids,
        "board_models": board_models,
        "min_version": compat.get("min_version"),
        "function_id": compat.get("function_id"),
        "pr_interface_ids": list(compat.get("pr_interface_ids", [])),
        "sha256": body["sha256"].lower() if body.get("sha256") else None,
        "signature": body.get("signature"),
    }


class FirmwareImages:
    """The catalog collection, its items, and their bytes."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._store = store.ImageStore(services.conf.firmware.image_store)
        self._keys: list[signing.PublicKey] | None = None

    def _trusted_keys(self) -> list[signing.PublicKey]:
        if self._keys is None:
            self._keys = signing.load_keys(self._s.conf.firmware.trusted_keys)
        return self._keys

    def _begin(self, req: falcon.Request, rule: str) -> Any:
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rule, ctx)
        return ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Register an image's metadata; 201 with ``status: queued``."""
        ctx = self._begin(req, rules.CREATE)
        fields = normalise(validation.body(req, schema.CREATE, self._s.max_body))
        if fields["signature"] is not None:
            signing.decode(fields["signature"])  # refuse non-base64 now, not at upload
        with self._s.db.transaction() as session:
            image = db_images.create(
                session, **fields, user_id=ctx.user_id, project_id=ctx.project_id
            )
        util.json_body(resp, serialize(image, util.base_url(req, self._s.conf)), falcon.HTTP_201)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List images, filtered by name, vendor, component, version, status."""
        self._begin(req, rules.GET_ALL)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        with self._s.db.transaction() as session:
            found = db_images.list_images(session, params, limit=page.limit, marker=page.marker)
        base = util.base_url(req, self._s.conf)
        items = [serialize(i, base) for i in found]
        last = found[-1].uuid if found else None
        util.paged_body(req, resp, self._s.conf, "firmware_images", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Show one image."""
        self._begin(req, rules.GET_ONE)
        with self._s.db.transaction() as session:
            image = db_images.get(session, validation.uuid(uuid))
        util.json_body(resp, serialize(image, util.base_url(req, self._s.conf)))

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Delete an image and, when no other image shares them, its bytes."""
        self._begin(req, rules.DELETE)
        with self._s.db.transaction() as session:
            image = db_images.get(session, validation.uuid(uuid))
            users = db_rollouts.unfinished_using_image(session, image.id)
            if users:
                raise exception.Conflict(
                    f"Firmware image {image.uuid} is used by unfinished rollout(s) "
                    f"{', '.join(users)}; abort them or let them finish first."
                )
            image = db_images.delete(session, image.uuid)
        if image.status == "active" and image.sha256:
            with self._s.db.transaction() as session:
                self._store.remove(image.sha256, lambda d: db_images.digest_in_use(session, d))
        util.no_content(resp)

    def on_put_file(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Receive the image's bytes, verify them, and activate the image."""
        ctx = self._begin(req, rules.UPLOAD)
        uuid = validation.uuid(uuid)
        with self._s.db.transaction() as session:
            image = db_images.get(session, uuid)
        if image.status != "queued":
            raise exception.Conflict(
                f"Firmware image {uuid} already has its bytes; "
                "images are immutable (register a new one)."
            )
        staged = self._store.stage(
            validation.body_stream(req),
            self._s.conf.firmware.max_image_bytes,
            req.content_length,
        )
        try:
            if image.sha256 and image.sha256 != staged.sha256:
                raise exception.Invalid(
                    f"sha256 mismatch: the image was registered with {image.sha256} but the "
                    f"uploaded bytes hash to {staged.sha256}; nothing was stored."
                )
            signed = signing.check(
                self._trusted_keys(),
                image.signature,
                staged.sha256,
                self._s.conf.firmware.require_signed,
            )
        except BaseException:
            staged.discard()
            raise
        self._store.commit(staged)
        try:
            with self._s.db.transaction() as session:
                image = db_images.activate(
                    session,
                    uuid,
                    sha256=staged.sha256,
                    size=staged.size,
                    signed=signed,
                    user_id=ctx.user_id,
                    project_id=ctx.project_id,
                )
        except BaseException:
            # Lost a race with another upload (or the database failed): keep no orphan bytes.
            with self._s.db.transaction() as session:
                self._store.remove(staged.sha256, lambda d: db_images.digest_in_use(session, d))
            raise
        util.json_body(resp, serialize(image, util.base_url(req, self._s.conf)))

    def on_get_file(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Stream the image's bytes back (agents download from here before flashing)."""
        self._begin(req, rules.DOWNLOAD)
        with self._s.db.transaction() as session:
            image = db_images.get(session, validation.uuid(uuid))
        if image.status != "active" or not image.sha256 or image.size is None:
            raise exception.Conflict(f"Firmware image {image.uuid} has no bytes uploaded yet.")
        resp.content_type = "application/octet-stream"
        resp.set_header("X-Image-Sha256", image.sha256)
        resp.set_header("ETag", f'"{image.sha256}"')
        resp.set_stream(self._store.open(image.sha256), image.size)
