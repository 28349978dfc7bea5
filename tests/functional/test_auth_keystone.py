"""Keystone wiring: ``wsgi.build`` with ``auth_strategy = keystone`` puts keystonemiddleware's
``auth_token`` in front of every path but the public ones; and whatever a layer outside falcon
raises is still answered with the API's envelope and request id.

No Keystone runs here: the checks are the ones keystonemiddleware answers without contacting
it (no token at all), and ``auth_url`` points at a closed loopback port with short timeouts so
anything that does try to reach it fails at once instead of hanging.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import traceback
import wsgiref.util

import falcon.testing
import pytest

from cyborg_lite import conf as cl_conf
from cyborg_lite.api import errors, middleware, wsgi

WWW_AUTHENTICATE_URI = "http://keystone.example.org/identity"
UNAUTHORIZED = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keystone_conf(tmp_path, authtoken_extra=""):
    """Keystone auth, configured from a real config file."""
    config = tmp_path / "cyborg-lite.conf"
    config.write_text(
        f"""[DEFAULT]
state_path = {tmp_path}
[api]
auth_strategy = keystone
[database]
connection = sqlite:///{tmp_path}/auth.sqlite
[keystone_authtoken]
www_authenticate_uri = {WWW_AUTHENTICATE_URI}
auth_url = http://127.0.0.1:{closed_loopback_port()}/identity
auth_type = password
username = cyborg
password = secret
project_name = service
user_domain_name = Default
project_domain_name = Default
http_connect_timeout = 2
http_request_max_retries = 0
{authtoken_extra}
"""
    )
    return cl_conf.make_conf(["--config-file", str(config)], default_config_files=[])


@pytest.fixture
def keystone_client(tmp_path):
    """The deployed WSGI app with keystone auth."""
    return falcon.testing.TestClient(wsgi.build(keystone_conf(tmp_path)))


def assert_keystone_401(result):
    assert result.status_code == 401
    # Produced by keystonemiddleware, outside falcon, yet it carries the request id.
    assert re.match(r"^req-[0-9a-f-]{36}$", result.headers["x-openstack-request-id"])
    assert result.headers["www-authenticate"] == f'Keystone uri="{WWW_AUTHENTICATE_URI}"'
    assert json.loads(result.text) == UNAUTHORIZED


@pytest.mark.parametrize(
    "path", ["/v2/devices", "/v2/devices/", "/devices", "/v2/deployables", "/v2/attributes"]
)
def test_api_paths_need_a_token(keystone_client, path):
    assert_keystone_401(keystone_client.simulate_get(path))


def test_writes_need_a_token(keystone_client):
    assert_keystone_401(
        keystone_client.simulate_post(
            "/v2/attributes", json={"deployable_id": 1, "key": "k", "value": "v"}
        )
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Roles": "admin"},
        {"X-Roles": "admin", "X-Project-Id": "p", "X-User-Id": "u", "X-Service-Roles": "service"},
        {"X-Identity-Status": "Confirmed", "X-Roles": "admin"},
    ],
)
def test_spoofed_identity_headers_do_not_get_in(keystone_client, headers):
    assert_keystone_401(keystone_client.simulate_get("/v2/devices", headers=headers))


@pytest.mark.parametrize("path", ["/", "/v2", "/v2/", "/healthcheck", "/v2/openapi.json"])
def test_public_paths_need_no_token(keystone_client, path):
    assert path in middleware.PUBLIC_PATHS
    result = keystone_client.simulate_get(path)
    assert result.status_code == 200
    assert "www-authenticate" not in result.headers


def test_unverifiable_token_is_not_accepted(keystone_client):
    # keystonemiddleware tries the (closed) Keystone port, fails fast, and refuses with 503:
    # a token it cannot check is never taken on trust.
    result = keystone_client.simulate_get(
        "/v2/devices", headers={"X-Auth-Token": "bogus", "X-Roles": "admin"}
    )
    assert result.status_code == 503


def test_noauth_needs_no_token(tmp_path):
    conf = cl_conf.make_conf([], default_config_files=[])
    conf.set_override("connection", f"sqlite:///{tmp_path}/noauth.sqlite", group="database")
    app = wsgi.build(conf)
    assert not isinstance(app, wsgi.PublicPathDispatcher)
    assert isinstance(app, wsgi.RequestIdWrapper)  # the error guard is there all the same
    result = falcon.testing.TestClient(app).simulate_get("/healthcheck")
    assert result.status_code == 200


def raising_app(environ, start_response):
    """Stands in for the falcon app: a bug that escapes every handler."""
    raise RuntimeError("a bug outside falcon's handlers")


def assert_api_500(result):
    assert result.status_code == 500
    assert result.headers["content-type"] == "application/json"
    assert re.match(r"^req-[0-9a-f-]{36}$", result.headers["x-openstack-request-id"])
    assert result.json == errors.envelope("500 Internal Server Error", errors.UNEXPECTED_MESSAGE)
    assert json.loads(result.json["error_message"]) == {
        "faultcode": "Server",
        "faultstring": "An unexpected error occurred; see the service log.",
        "debuginfo": None,
    }


# /v2/devices goes through keystonemiddleware, which with delay_auth_decision passes an
# unauthenticated request on, so the exception rises through its frames; /healthcheck skips it.
@pytest.mark.parametrize("path", ["/v2/devices", "/healthcheck"])
def test_an_exception_outside_falcon_gets_the_api_envelope(tmp_path, caplog, path):
    conf = keystone_conf(tmp_path, "delay_auth_decision = true")
    app = wsgi.wrap(conf, raising_app)
    with caplog.at_level(logging.ERROR, logger="cyborg_lite.api.wsgi"):
        result = falcon.testing.TestClient(app).simulate_get(path)
    assert_api_500(result)
    (record,) = [r for r in caplog.records if r.name == "cyborg_lite.api.wsgi"]
    assert result.headers["x-openstack-request-id"] in record.getMessage()
    trace = "".join(traceback.format_exception(*record.exc_info))  # the traceback, logged
    assert "a bug outside falcon's handlers" in trace
    assert ("keystonemiddleware" in trace) == (path == "/v2/devices")


def test_an_exception_outside_falcon_with_noauth_gets_the_api_envelope(tmp_path):
    conf = cl_conf.make_conf([], default_config_files=[])
    assert_api_500(falcon.testing.TestClient(wsgi.wrap(conf, raising_app)).simulate_get("/"))


def test_a_layer_that_started_its_response_hands_the_server_exc_info():
    # PEP 3333: the server replaces the started response while nothing is sent, and re-raises
    # once headers are out. This stands in for the server and records what it was told.
    def starts_then_raises(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError("after start_response")

    calls = []
    environ = {}
    wsgiref.util.setup_testing_defaults(environ)
    body = wsgi.RequestIdWrapper(starts_then_raises)(
        environ, lambda status, headers, exc_info=None: calls.append((status, headers, exc_info))
    )
    (first, second) = calls
    assert first[0] == "200 OK"
    assert first[2] is None
    status, headers, exc_info = second
    assert status == "500 Internal Server Error"
    assert isinstance(exc_info[1], RuntimeError)
    assert (middleware.REQUEST_ID_HEADER, environ[middleware.ENVIRON_REQUEST_ID]) in headers
    assert json.loads(b"".join(body)) == errors.envelope(status, errors.UNEXPECTED_MESSAGE)
