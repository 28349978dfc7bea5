"""Version documents, microversion negotiation, request ids and error envelopes."""

from __future__ import annotations

import re

import pytest

from cyborg_lite.api import microversion
from tests import personas
from tests.functional.envelope import message

MAX = microversion.fmt(microversion.MAX)
REQ_ID = re.compile(r"^req-[0-9a-f-]{36}$")


def test_root_document(client):
    result = client.simulate_get("/", headers={"Host": "ctl.example.org"})
    assert result.status_code == 200
    body = result.json
    assert set(body) == {"name", "description", "versions", "default_version"}
    assert body["name"] == "OpenStack Cyborg API"
    version = body["versions"][0]
    assert version == body["default_version"]
    assert version["id"] == "v2"
    assert version["status"] == "CURRENT"
    assert version["min_version"] == "2.0"
    assert version["max_version"] == MAX
    assert microversion.MAX >= (2, 3)  # openstacksdk refuses to talk below 2.3
    assert version["links"] == [{"href": "http://ctl.example.org/v2", "rel": "self"}]
    # The root document carries no microversion headers.
    assert "openstack-api-version" not in result.headers
    assert REQ_ID.match(result.headers["x-openstack-request-id"])


@pytest.mark.parametrize("path", ["/v2", "/v2/"])
def test_v2_document_is_flat(client, path):
    result = client.simulate_get(path, headers={"Host": "ctl.example.org"})
    assert result.status_code == 200
    assert result.json == {
        "id": "v2.0",
        "links": [{"href": "http://ctl.example.org/v2/", "rel": "self"}],
        "min_version": "2.0",
        "max_version": MAX,
        "status": "CURRENT",
    }
    assert result.headers["openstack-api-version"] == "accelerator 2.0"
    assert result.headers["openstack-api-minimum-version"] == "2.0"
    assert result.headers["openstack-api-maximum-version"] == MAX
    assert result.headers["vary"] == "OpenStack-API-Version"


def test_public_endpoint_in_links(db, tmp_path):
    import falcon.testing

    from cyborg_lite.api.app import create_app
    from tests.conftest import make_test_conf

    conf = make_test_conf(
        str(tmp_path), **{"api.public_endpoint": "https://cloud.example.org/accelerator/"}
    )
    client = falcon.testing.TestClient(create_app(conf, db=db))
    result = client.simulate_get("/v2")
    assert result.json["links"][0]["href"] == "https://cloud.example.org/accelerator/v2/"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("accelerator 2.2", "accelerator 2.2"),
        ("accelerator latest", f"accelerator {MAX}"),
        ("2.1", "accelerator 2.1"),
        ("ACCELERATOR 2.3", "accelerator 2.3"),
    ],
)
def test_microversion_accepted(client, header, expected):
    result = client.simulate_get("/v2/devices", headers={"OpenStack-API-Version": header})
    assert result.status_code == 200
    assert result.headers["openstack-api-version"] == expected


@pytest.mark.parametrize(
    ("header", "text"),
    [
        (
            "accelerator 2.99",
            "Version 2.99 was requested but the minor version is not supported "
            "by this service. The supported version range is: [2.0, " + MAX + "].",
        ),
        ("accelerator 3.0", "Mutually exclusive versions requested"),
        ("compute 2.80", "Invalid value for OpenStack-API-Version header"),
        ("accelerator two", "Invalid value for OpenStack-API-Version header"),
    ],
)
def test_microversion_refused(client, header, text):
    result = client.simulate_get("/v2/devices", headers={"OpenStack-API-Version": header})
    assert result.status_code == 406
    assert text in message(result)
    assert result.headers["openstack-api-minimum-version"] == "2.0"
    assert result.headers["openstack-api-maximum-version"] == MAX
    assert result.headers["vary"] == "OpenStack-API-Version"
    assert "openstack-api-version" not in result.headers
    assert REQ_ID.match(result.headers["x-openstack-request-id"])


def test_inbound_request_id_is_not_echoed_as_local(client):
    inbound = "req-12345678-1234-1234-1234-123456789abc"
    result = client.simulate_get("/v2/devices", headers={"X-OpenStack-Request-ID": inbound})
    local = result.headers["x-openstack-request-id"]
    assert REQ_ID.match(local)
    assert local != inbound


def test_unknown_route_uses_envelope(client):
    result = client.simulate_get("/v2/nothing-here")
    assert result.status_code == 404
    assert "/v2/nothing-here" in message(result)


def test_wrong_method_uses_envelope(client):
    result = client.simulate_put("/v2/devices")
    assert result.status_code == 405
    assert "PUT" in message(result)


def test_unversioned_path_is_v2(client, db):
    from tests import seed

    seed.device(db)
    v2 = client.simulate_get("/v2/devices").json
    bare = client.simulate_get("/devices")
    assert bare.status_code == 200
    assert bare.json == v2
    assert bare.headers["openstack-api-version"] == "accelerator 2.0"


def test_healthcheck(client):
    result = client.simulate_get("/healthcheck")
    assert result.status_code == 200
    assert result.text == "OK"


def test_healthcheck_reports_database_down(tmp_path):
    import falcon.testing

    from cyborg_lite.api.app import create_app
    from cyborg_lite.db.engine import Database
    from tests.conftest import make_test_conf

    conf = make_test_conf(str(tmp_path))
    dead = Database("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    result = falcon.testing.TestClient(create_app(conf, db=dead)).simulate_get("/healthcheck")
    assert result.status_code == 503
    assert "database" in result.text


def test_system_scope_refused(client):
    result = client.simulate_get("/v2/devices", headers=personas.SYSTEM_ADMIN)
    assert result.status_code == 403
    assert message(result) == "Access was denied to the following resource: cyborg:device:get_all"
