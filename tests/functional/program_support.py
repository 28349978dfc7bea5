"""HTTP helpers the end-to-end programming tests share: the API at 2.5, a bitstream image
registered and uploaded, a device's firmware and a deployable's traits."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from tests.waiting import wait_for

V25 = {"OpenStack-API-Version": "accelerator 2.5"}


def send(
    base: str, method: str, path: str, body: Any = None, data: bytes | None = None
) -> tuple[int, Any]:
    """One request at 2.5 (JSON ``body`` or raw ``data``); returns status and decoded body."""
    raw = json.dumps(body).encode() if body is not None else data
    kind = "application/json" if body is not None else "application/octet-stream"
    headers = {**V25, "Content-Type": kind}
    req = urllib.request.Request(f"{base}{path}", raw, headers, method=method)  # noqa: S310
    try:
        # A program waits for its load: longer than the API's usual answers.
        with urllib.request.urlopen(req, timeout=90) as resp:  # noqa: S310 - loopback
            text = resp.read()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def upload_bitstream(
    base: str, data: bytes, *, name: str, vendor: str, device_id: str, version: str, **compat: Any
) -> str:
    """Register a bitstream image with ``compat`` and upload ``data``; returns its uuid."""
    status, image = send(
        base,
        "POST",
        "/v2/firmware_images",
        {
            "name": name,
            "vendor": vendor,
            "component": "bitstream",
            "version": version,
            "device_ids": [device_id],
            "sha256": hashlib.sha256(data).hexdigest(),
            **({"compatibility": compat} if compat else {}),
        },
    )
    assert status == 201, image
    status, uploaded = send(base, "PUT", f"/v2/firmware_images/{image['uuid']}/file", data=data)
    assert (status, uploaded["status"]) == (200, "active"), uploaded
    return str(image["uuid"])


def firmware(base: str, device_uuid: str) -> dict[str, str]:
    """The device's firmware components as ``{component: version}``."""
    _, body = send(base, "GET", f"/v2/devices/{device_uuid}/firmware")
    return {c["component"]: c["version"] for c in body["components"]}


def traits(deployable: dict[str, Any]) -> set[str]:
    """The values of a deployable's attributes (its rc and traits)."""
    return {v for item in json.loads(deployable["attributes_list"]) for v in item.values()}


def bind_and_settle(base: str, arq_uuid: str, hostname: str, rp_uuid: str) -> dict[str, Any]:
    """Bind ``arq_uuid`` to a new instance on ``rp_uuid`` as Nova does (202), then wait for
    the bind to end (``Bound`` or ``BindFailed``: after a program at bind's load); returns the
    ARQ as it ended."""
    ops = [
        {"op": "add", "path": "/hostname", "value": hostname},
        {"op": "add", "path": "/device_rp_uuid", "value": rp_uuid},
        {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
    ]
    status, _ = send(base, "PATCH", "/v2/accelerator_requests", {arq_uuid: ops})
    assert status == 202

    def resolved() -> dict[str, Any] | None:
        _, body = send(base, "GET", f"/v2/accelerator_requests/{arq_uuid}")
        return body if body["state"] in ("Bound", "BindFailed") else None

    return wait_for("the bind to settle after its load", resolved, 60)
