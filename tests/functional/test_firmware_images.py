"""The firmware catalog story: register, upload with digest and signature checks, download,
list, delete; refusals store nothing."""

from __future__ import annotations

import base64
import hashlib
import os

import falcon.testing
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from cyborg_lite.api.app import create_app
from tests import personas
from tests.conftest import make_test_conf
from tests.functional.envelope import message

V24 = personas.headers("admin", version="2.4")
IMAGE = b"\x7fVBIOS" + bytes(range(256)) * 64
SHA = hashlib.sha256(IMAGE).hexdigest()
OCTETS = {**V24, "Content-Type": "application/octet-stream"}


def register(client, **extra):
    body = {
        "name": "H100 VBIOS 96.00.99",
        "vendor": "10de",
        "component": "vbios",
        "version": "96.00.99.00.01",
        "device_ids": ["2330"],
        **extra,
    }
    result = client.simulate_post("/v2/firmware_images", json=body, headers=V24)
    assert result.status_code == 201, result.text
    return result.json


def stored_files(state: str) -> list[str]:
    root = os.path.join(state, "images")
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


def test_register_upload_download(client, conf):
    image = register(client, sha256=SHA.upper(), models=["H100 SXM5"], min_version="96.00.10")
    assert image["status"] == "queued"
    assert image["compatibility"] == {
        "device_ids": ["2330"],
        "models": ["H100 SXM5"],
        "min_version": "96.00.10",
        "function_id": None,
        "pr_interface_ids": [],
    }
    assert image["sha256"] == SHA
    assert image["size"] is None
    assert image["signed"] is False
    assert image["created_by"]["user_id"] == "user-admin"
    assert image["uploaded_by"] is None

    # Uploaded by another admin, of another project: both acts are kept.
    uploader = {
        **personas.headers("admin", personas.PROJECT_B, version="2.4"),
        "X-User-Id": "uploader",
        "Content-Type": "application/octet-stream",
    }
    put = client.simulate_put(
        f"/v2/firmware_images/{image['uuid']}/file", body=IMAGE, headers=uploader
    )
    assert put.status_code == 200, put.text
    assert put.json["status"] == "active"
    assert put.json["uploaded_by"] == {"user_id": "uploader", "project_id": personas.PROJECT_B}
    assert put.json["created_by"]["user_id"] == "user-admin"
    assert put.json["size"] == len(IMAGE)
    assert put.json["sha256"] == SHA
    assert stored_files(conf.state_path) == [f"sha256/{SHA[:2]}/{SHA}"]

    got = client.simulate_get(f"/v2/firmware_images/{image['uuid']}/file", headers=V24)
    assert got.status_code == 200
    assert got.content == IMAGE
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-image-sha256"] == SHA
    assert int(got.headers["content-length"]) == len(IMAGE)


def test_second_upload_is_refused(client):
    image = register(client)
    path = f"/v2/firmware_images/{image['uuid']}/file"
    assert client.simulate_put(path, body=IMAGE, headers=OCTETS).status_code == 200
    again = client.simulate_put(path, body=b"other bytes", headers=OCTETS)
    assert again.status_code == 409
    assert "immutable" in message(again)
    assert client.simulate_get(path, headers=V24).content == IMAGE


def test_digest_mismatch_stores_nothing(client, conf):
    image = register(client, sha256="0" * 64)
    put = client.simulate_put(
        f"/v2/firmware_images/{image['uuid']}/file", body=IMAGE, headers=OCTETS
    )
    assert put.status_code == 400
    assert f"uploaded bytes hash to {SHA}" in message(put)
    assert stored_files(conf.state_path) == []
    shown = client.simulate_get(f"/v2/firmware_images/{image['uuid']}", headers=V24).json
    assert shown["status"] == "queued"
    download = client.simulate_get(f"/v2/firmware_images/{image['uuid']}/file", headers=V24)
    assert download.status_code == 409


def test_too_large_stores_nothing(db, tmp_path):
    conf = make_test_conf(str(tmp_path), **{"firmware.max_image_bytes": 1000})
    client = falcon.testing.TestClient(create_app(conf, db=db))
    image = register(client)
    put = client.simulate_put(
        f"/v2/firmware_images/{image['uuid']}/file", body=IMAGE, headers=OCTETS
    )
    assert put.status_code == 413
    assert "max_image_bytes" in message(put)
    assert stored_files(str(tmp_path)) == []


def test_empty_upload_is_refused(client, conf):
    image = register(client)
    put = client.simulate_put(f"/v2/firmware_images/{image['uuid']}/file", body=b"", headers=OCTETS)
    assert put.status_code == 400
    assert "empty" in message(put)
    assert stored_files(conf.state_path) == []


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"vendor": "10de", "component": "vbios", "version": "1", "device_ids": ["2330"]}, "name"),
        (
            {
                "name": "x",
                "vendor": "nvidia",
                "component": "vbios",
                "version": "1",
                "device_ids": ["2330"],
            },
            "vendor",
        ),
        ({"name": "x", "vendor": "10de", "component": "vbios", "version": "1"}, "compatibility"),
        (
            {
                "name": "x",
                "vendor": "10de",
                "component": "VBIOS!",
                "version": "1",
                "device_ids": ["2330"],
            },
            "component",
        ),
        (
            {
                "name": "x",
                "vendor": "10de",
                "component": "vbios",
                "version": "1 ; rm -rf",
                "device_ids": ["2330"],
            },
            "version",
        ),
        (
            {
                "name": "x",
                "vendor": "10de",
                "component": "vbios",
                "version": "1",
                "device_ids": ["2330"],
                "sha256": "abc",
            },
            "sha256",
        ),
        (
            {
                "name": "x",
                "vendor": "10de",
                "component": "vbios",
                "version": "1",
                "device_ids": ["2330"],
                "signature": "not base64!",
            },
            "base64",
        ),
        (
            {
                "name": "x",
                "vendor": "10de",
                "component": "vbios",
                "version": "1",
                "device_ids": ["2330"],
                "colour": "red",
            },
            "colour",
        ),
    ],
)
def test_bad_registration(client, body, text):
    result = client.simulate_post("/v2/firmware_images", json=body, headers=V24)
    assert result.status_code == 400
    assert text in message(result)


def test_list_filter_page_and_delete(client, conf):
    a = register(client)
    b = register(client, component="inforom", version="G520.0200.00.05")
    c = register(client)
    listed = client.simulate_get("/v2/firmware_images", headers=V24).json["firmware_images"]
    assert [i["uuid"] for i in listed] == [a["uuid"], b["uuid"], c["uuid"]]
    only = client.simulate_get(
        "/v2/firmware_images", query_string="component=inforom", headers=V24
    ).json["firmware_images"]
    assert [i["uuid"] for i in only] == [b["uuid"]]
    page = client.simulate_get(
        "/v2/firmware_images", query_string=f"limit=1&marker={a['uuid']}", headers=V24
    )
    assert [i["uuid"] for i in page.json["firmware_images"]] == [b["uuid"]]
    # Two images with the same bytes share one file; it goes with the last of them.
    for image in (a, c):
        put = client.simulate_put(
            f"/v2/firmware_images/{image['uuid']}/file", body=IMAGE, headers=OCTETS
        )
        assert put.status_code == 200
    assert (
        client.simulate_delete(f"/v2/firmware_images/{a['uuid']}", headers=V24).status_code == 204
    )
    assert stored_files(conf.state_path) == [f"sha256/{SHA[:2]}/{SHA}"]
    assert (
        client.simulate_get(f"/v2/firmware_images/{c['uuid']}/file", headers=V24).content == IMAGE
    )
    assert (
        client.simulate_delete(f"/v2/firmware_images/{c['uuid']}", headers=V24).status_code == 204
    )
    assert stored_files(conf.state_path) == []
    gone = client.simulate_get(f"/v2/firmware_images/{a['uuid']}", headers=V24)
    assert gone.status_code == 404
    assert message(gone) == f"Firmware image not found with uuid={a['uuid']}"


def test_needs_microversion_2_4(client):
    result = client.simulate_get(
        "/v2/firmware_images", headers=personas.headers("admin", version="2.3")
    )
    assert result.status_code == 406
    assert "2.4" in message(result)


@pytest.mark.parametrize(
    ("persona", "can_download"),
    [
        (personas.headers("member", version="2.4"), False),
        (personas.headers("manager", version="2.4"), False),
        (personas.headers("service", service=True, version="2.4"), True),
    ],
)
def test_policy(client, persona, can_download):
    image = register(client)
    client.simulate_put(f"/v2/firmware_images/{image['uuid']}/file", body=IMAGE, headers=OCTETS)
    denied = client.simulate_post("/v2/firmware_images", json={}, headers=persona)
    assert denied.status_code == 403
    assert "cyborg:firmware_image:create" in message(denied)
    assert client.simulate_get("/v2/firmware_images", headers=persona).status_code == 403
    assert (
        client.simulate_put(
            f"/v2/firmware_images/{image['uuid']}/file",
            body=IMAGE,
            headers={**persona, "Content-Type": "application/octet-stream"},
        ).status_code
        == 403
    )
    download = client.simulate_get(f"/v2/firmware_images/{image['uuid']}/file", headers=persona)
    assert download.status_code == (200 if can_download else 403)


# --- signatures ---------------------------------------------------------------------------


def _pem(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def signed_client(db, tmp_path, ec_key, rsa_key):
    paths = []
    for name, key in (("ec.pem", ec_key), ("rsa.pem", rsa_key)):
        path = tmp_path / name
        path.write_bytes(_pem(key))
        paths.append(str(path))
    conf = make_test_conf(str(tmp_path / "state"), **{"firmware.trusted_keys": paths})
    return falcon.testing.TestClient(create_app(conf, db=db)), conf


def _upload(client, signature=None):
    extra = {"signature": signature} if signature else {}
    image = register(client, **extra)
    return client.simulate_put(
        f"/v2/firmware_images/{image['uuid']}/file", body=IMAGE, headers=OCTETS
    )


def test_signed_ecdsa_accepted(signed_client, ec_key):
    client, _ = signed_client
    sig = ec_key.sign(IMAGE, ec.ECDSA(hashes.SHA256()))
    result = _upload(client, base64.b64encode(sig).decode())
    assert result.status_code == 200, result.text
    assert result.json["signed"] is True


def test_signed_rsa_accepted(signed_client, rsa_key):
    client, _ = signed_client
    sig = rsa_key.sign(IMAGE, padding.PKCS1v15(), hashes.SHA256())
    result = _upload(client, base64.b64encode(sig).decode())
    assert result.status_code == 200, result.text
    assert result.json["signed"] is True


def test_unsigned_refused_when_keys_configured(signed_client):
    client, conf = signed_client
    result = _upload(client)
    assert result.status_code == 400
    assert "not signed" in message(result)
    assert stored_files(conf.state_path) == []


def test_signature_by_untrusted_key_refused(signed_client):
    client, conf = signed_client
    stranger = ec.generate_private_key(ec.SECP256R1())
    sig = stranger.sign(IMAGE, ec.ECDSA(hashes.SHA256()))
    result = _upload(client, base64.b64encode(sig).decode())
    assert result.status_code == 400
    assert "does not verify" in message(result)
    assert stored_files(conf.state_path) == []


def test_signature_over_other_bytes_refused(signed_client, ec_key):
    client, _ = signed_client
    sig = ec_key.sign(IMAGE + b"tampered", ec.ECDSA(hashes.SHA256()))
    result = _upload(client, base64.b64encode(sig).decode())
    assert result.status_code == 400


def test_require_signed_without_keys(db, tmp_path):
    conf = make_test_conf(str(tmp_path), **{"firmware.require_signed": True})
    client = falcon.testing.TestClient(create_app(conf, db=db))
    result = _upload(client, base64.b64encode(b"x" * 64).decode())
    assert result.status_code == 400
    assert "no trusted key is configured" in message(result)


def test_a_bitstream_names_its_function_and_pr_regions(client):
    image = register(
        client,
        name="afu",
        vendor="8086",
        component="bitstream",
        version="d8424dc4-a4a3-c413-f89e-433683f9040b",
        device_ids=["bcce"],
        compatibility={"function_id": "nlb0", "pr_interface_ids": ["a", "b"]},
    )
    assert image["compatibility"]["function_id"] == "nlb0"
    assert image["compatibility"]["pr_interface_ids"] == ["a", "b"]
    shown = client.simulate_get(f"/v2/firmware_images/{image['uuid']}", headers=V24)
    assert shown.json["compatibility"] == image["compatibility"]


def test_function_and_pr_ids_are_refused_on_other_components(client):
    body = {
        "name": "v",
        "vendor": "10de",
        "component": "vbios",
        "version": "1.0",
        "device_ids": ["2330"],
        "function_id": "nlb0",
    }
    result = client.simulate_post("/v2/firmware_images", json=body, headers=V24)
    assert result.status_code == 400
    assert "function_id describe bitstreams" in message(result)
