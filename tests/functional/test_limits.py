"""Request size limits and broken uploads: every body-reading path is bounded, and an upload
that is too large, malformed or cut short is answered 4xx (when the client is still there to
hear it) and leaves no file behind.

The in-process tests cover the routing of limits; the ``slow`` ones speak raw HTTP to the
real ``cyborg-lite-api`` (gunicorn), which is where a client can declare one length and send
another, send chunks, or hang up mid-body.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import uuid
from pathlib import Path

import falcon.testing
import pytest

from cyborg_lite.api.app import create_app
from tests import personas
from tests.conftest import make_test_conf
from tests.functional.envelope import message
from tests.functional.servers import call, running_api
from tests.functional.test_firmware_images import register, stored_files
from tests.waiting import wait_for

LIMIT = 4096
V24 = personas.headers("admin", version="2.4")
OCTETS = {**V24, "Content-Type": "application/octet-stream"}


@pytest.fixture
def small(db, tmp_path):
    """The app with a 4 KiB JSON limit and a 64 KiB image limit."""
    conf = make_test_conf(
        str(tmp_path),
        **{"api.max_request_body_bytes": LIMIT, "firmware.max_image_bytes": 65536},
    )
    return falcon.testing.TestClient(create_app(conf, db=db))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/devices"),
        ("POST", f"/v2/devices/{uuid.uuid4()}/disable"),
        ("DELETE", f"/v2/accelerator_requests?arqs={uuid.uuid4()}"),
        ("POST", "/v2/attributes"),
        ("POST", "/v2/device_profiles"),
        ("PATCH", "/v2/accelerator_requests"),
        ("POST", "/v2/firmware_rollouts"),
    ],
)
def test_declared_body_over_the_limit_is_refused_on_every_route(small, method, path):
    result = small.simulate_request(method, path, body=b"[" + b" " * LIMIT + b"]", headers=V24)
    assert result.status_code == 413
    assert f"limit of {LIMIT} bytes" in message(result)


def test_a_body_at_the_limit_is_read(small):
    body = json.dumps([{"name": "p", "groups": [{"resources:PGPU": "1"}]}]).encode()
    result = small.simulate_post(
        "/v2/device_profiles",
        body=body + b" " * (LIMIT - len(body)),
        headers={**V24, "Content-Type": "application/json"},
    )
    assert result.status_code == 201, result.text


def test_image_upload_is_bounded_by_its_own_limit(small, tmp_path):
    # Bigger than the JSON limit, within the image limit: accepted.
    data = os.urandom(LIMIT * 4)
    image = register(small, sha256=hashlib.sha256(data).hexdigest())
    put = small.simulate_put(f"/v2/firmware_images/{image['uuid']}/file", body=data, headers=OCTETS)
    assert put.status_code == 200, put.text
    # Over the image limit: 413, nothing kept.
    big = register(small, version="96.00.99.00.02")
    put = small.simulate_put(
        f"/v2/firmware_images/{big['uuid']}/file", body=b"x" * 65537, headers=OCTETS
    )
    assert put.status_code == 413
    assert "max_image_bytes" in message(put)
    digest = hashlib.sha256(data).hexdigest()
    assert stored_files(str(tmp_path)) == [f"sha256/{digest[:2]}/{digest}"]


# --- over real HTTP --------------------------------------------------------------------------


def raw_exchange(base: str, head: str, body_parts: list[bytes], *, half_close: bool) -> bytes:
    """Send ``head`` and ``body_parts`` on a fresh connection; with ``half_close`` shut the
    sending side and read the answer, else hang up at once. Returns what came back."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            sock.sendall(part)
        if not half_close:
            return b""
        sock.shutdown(socket.SHUT_WR)
        received = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
        return received


def put_head(path: str, extra: str) -> str:
    return (
        f"PUT {path} HTTP/1.1\r\nHost: localhost\r\n"
        "OpenStack-API-Version: accelerator 2.4\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"{extra}\r\n"
    )


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def image_status(base: str, image_uuid: str) -> str:
    status, _, raw = call("GET", f"{base}/v2/firmware_images/{image_uuid}", headers=V24)
    assert status == 200
    return str(json.loads(raw)["status"])


def new_image(base: str, version: str) -> str:
    status, _, raw = call(
        "POST",
        f"{base}/v2/firmware_images",
        {
            "name": "cut short",
            "vendor": "10de",
            "component": "vbios",
            "version": version,
            "device_ids": ["2330"],
        },
        V24,
    )
    assert status == 201, raw
    return str(json.loads(raw)["uuid"])


def image_store_files(state: Path) -> list[str]:
    """Every file under the image store, temporary uploads included."""
    root = state / "images"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def access_logged(log: Path, needle: str) -> bool:
    return log.exists() and needle in log.read_text(errors="replace")


@pytest.mark.slow
def test_broken_uploads_over_real_http_leave_nothing(tmp_path):
    overrides = {"firmware.max_image_bytes": 200_000, "api.max_request_body_bytes": 4096}
    with running_api(overrides, tmp_path) as base:
        state, log = tmp_path / "state", tmp_path / "cyborg-lite-api.log"

        # 1. Fewer bytes than Content-Length, then the client shuts its side: 400.
        first = new_image(base, "1.0.1")
        path = f"/v2/firmware_images/{first}/file"
        raw = raw_exchange(
            base, put_head(path, "Content-Length: 100000\r\n"), [b"x" * 5000], half_close=True
        )
        assert status_of(raw) == 400, raw
        assert b"Upload ended after 5000 of 100000 bytes" in raw

        # 2. The same, but the client hangs up without waiting: the worker still cleans up.
        second = new_image(base, "1.0.2")
        path = f"/v2/firmware_images/{second}/file"
        raw_exchange(
            base, put_head(path, "Content-Length: 100000\r\n"), [b"y" * 70000], half_close=False
        )
        wait_for("the cut-short upload to be answered", lambda: access_logged(log, path))

        # 3. Chunked, over max_image_bytes: 413 without a Content-Length to check up front.
        third = new_image(base, "1.0.3")
        path = f"/v2/firmware_images/{third}/file"
        chunk = b"z" * 50_000
        parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 5 + [b"0\r\n\r\n"]
        raw = raw_exchange(
            base, put_head(path, "Transfer-Encoding: chunked\r\n"), parts, half_close=True
        )
        assert status_of(raw) == 413, raw

        # 4. Chunked, cut off mid-chunk: the connection drops, nothing is kept.
        parts = [b"%x\r\n%s" % (len(chunk), chunk[:1000])]
        head = put_head(path, "Transfer-Encoding: chunked\r\n")
        raw = raw_exchange(base, head, parts, half_close=True)
        assert status_of(raw) == 400, raw
        assert b"could not be read" in raw
        # 5. A malformed chunk size: 400 as well.
        raw = raw_exchange(base, head, [b"zz\r\nabc\r\n0\r\n\r\n"], half_close=True)
        assert status_of(raw) == 400, raw

        for image in (first, second, third):
            assert image_status(base, image) == "queued"
        assert image_store_files(state) == []

        # A JSON body sent chunked, past the JSON limit: 413 although nothing was declared.
        body = json.dumps([{"name": "p" * 5000, "groups": [{"resources:PGPU": "1"}]}]).encode()
        head = (
            "POST /v2/device_profiles HTTP/1.1\r\nHost: localhost\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        raw = raw_exchange(
            base, head, [b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)], half_close=True
        )
        assert status_of(raw) == 413, raw

        # The service is still fine: a whole upload goes through.
        data = b"complete image"
        fourth = new_image(base, "1.0.4")
        head = put_head(f"/v2/firmware_images/{fourth}/file", f"Content-Length: {len(data)}\r\n")
        raw = raw_exchange(base, head, [data], half_close=True)
        assert status_of(raw) == 200, raw
        digest = hashlib.sha256(data).hexdigest()
        assert image_store_files(state) == [f"sha256/{digest[:2]}/{digest}"]
