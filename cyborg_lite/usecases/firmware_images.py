"""Firmware image use cases: register, upload (with its checks) and delete.

Registering an image and uploading its bytes are two steps, as in Glance: ``register`` records
the metadata (``queued``); ``upload`` streams the bytes into the store, hashed on the way and
checked against the registered sha256 and, where configured, a trusted signature, before the
image becomes ``active``. A refused upload stores nothing, and bytes committed by an upload
that then loses its race keep no orphan file. ``delete`` refuses an image that an unfinished
rollout uses, and removes the bytes unless another image shares them.

An upload receives its bytes with no transaction open: one would otherwise hold SQLite's one
writer (or a row lock) for as long as the client takes to send them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, BinaryIO

from oslo_config import cfg

from cyborg_lite import exception
from cyborg_lite.context import RequestContext
from cyborg_lite.db import firmware_images as db_images
from cyborg_lite.db import models
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.db.engine import Database
from cyborg_lite.firmware import programming, signing, store


def normalise(body: Mapping[str, Any]) -> dict[str, Any]:
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
    if bitstream_only and body["component"] != programming.BITSTREAM:
        raise exception.Invalid(
            f"{' and '.join(bitstream_only)} describe bitstreams; this image's component is "
            f"{body['component']!r}, not {programming.BITSTREAM!r}."
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


@dataclasses.dataclass(frozen=True)
class Download:
    """An active image's bytes, open for reading (the caller closes ``file``)."""

    sha256: str
    size: int
    file: BinaryIO


class FirmwareImages:
    """The catalog's use cases; owns the image store and the trusted keys ([firmware])."""

    def __init__(self, conf: cfg.ConfigOpts, db: Database) -> None:
        self._conf = conf
        self._db = db
        self._store = store.ImageStore(conf.firmware.image_store)
        self._keys: list[signing.PublicKey] | None = None

    def _trusted_keys(self) -> list[signing.PublicKey]:
        # Read at first use, not at construction: building the app reads no file.
        if self._keys is None:
            self._keys = signing.load_keys(self._conf.firmware.trusted_keys)
        return self._keys

    def register(self, ctx: RequestContext, body: Mapping[str, Any]) -> models.FirmwareImage:
        """A new ``queued`` image from a validated create body (400 for a bad compatibility
        or a signature that is not base64, refused now rather than at upload)."""
        fields = normalise(body)
        if fields["signature"] is not None:
            signing.decode(fields["signature"])
        with self._db.transaction() as session:
            return db_images.create(
                session, **fields, user_id=ctx.user_id, project_id=ctx.project_id
            )

    def upload(
        self,
        ctx: RequestContext,
        uuid: str,
        stream: store.Readable,
        content_length: int | None,
    ) -> models.FirmwareImage:
        """Receive a queued image's bytes, verify them and activate the image.

        409 once it has bytes (images are immutable); 413 past ``[firmware] max_image_bytes``;
        400 for a short body, a sha256 that differs from the registered one, or a signature
        that is missing or does not verify where one is required.
        """
        with self._db.transaction() as session:
            image = db_images.get(session, uuid)
        if image.status != "queued":
            raise exception.Conflict(
                f"Firmware image {uuid} already has its bytes; "
                "images are immutable (register a new one)."
            )
        staged = self._store.stage(stream, self._conf.firmware.max_image_bytes, content_length)
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
                self._conf.firmware.require_signed,
            )
        except BaseException:
            staged.discard()
            raise
        self._store.commit(staged)
        try:
            with self._db.transaction() as session:
                return db_images.activate(
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
            self._remove_bytes(staged.sha256)
            raise

    def delete(self, uuid: str) -> None:
        """Delete an image and, when no other image shares them, its bytes; 409 while an
        unfinished rollout uses it."""
        with self._db.transaction() as session:
            image = db_images.get(session, uuid)
            users = db_rollouts.unfinished_using_image(session, image.id)
            if users:
                raise exception.Conflict(
                    f"Firmware image {image.uuid} is used by unfinished rollout(s) "
                    f"{', '.join(users)}; abort them or let them finish first."
                )
            image = db_images.delete(session, image.uuid)
        if image.status == "active" and image.sha256:
            self._remove_bytes(image.sha256)

    def download(self, uuid: str) -> Download:
        """An image's bytes for the agents that flash it; 409 before they are uploaded, 404
        when they are gone from the store."""
        with self._db.transaction() as session:
            image = db_images.get(session, uuid)
        if image.status != "active" or not image.sha256 or image.size is None:
            raise exception.Conflict(f"Firmware image {image.uuid} has no bytes uploaded yet.")
        return Download(image.sha256, image.size, self._store.open(image.sha256))

    def _remove_bytes(self, sha256: str) -> None:
        with self._db.transaction() as session:
            self._store.remove(sha256, lambda d: db_images.digest_in_use(session, d))
