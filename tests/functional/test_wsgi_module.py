"""The API as a WSGI module (``cyborg_lite.wsgi.api:application``, issue 18): built from the
files named by ``CYBORG_LITE_CONFIG`` on its first request, in process and under a real
gunicorn started from its own command line, as uWSGI or mod_wsgi would host it."""

from __future__ import annotations

import os
import subprocess
import time

import falcon.testing
import pytest

from cyborg_lite.db import migration
from cyborg_lite.db.engine import Database
from cyborg_lite.wsgi import api as wsgi_api
from tests.functional.servers import call, executable, free_port, sqlite_url, write_config


@pytest.fixture
def config(tmp_path):
    url = sqlite_url(tmp_path)
    database = Database(url)
    migration.upgrade(database.engine)
    database.dispose()
    path = tmp_path / "cyborg-lite.conf"
    write_config(path, {"state_path": tmp_path, "database.connection": url})
    return path


def test_the_module_builds_the_api_from_the_named_config(config, monkeypatch):
    monkeypatch.setenv(wsgi_api.CONFIG_ENV, str(config))
    app = wsgi_api._OnFirstRequest()
    client = falcon.testing.TestClient(app)
    assert client.simulate_get("/healthcheck").status_code == 200
    listed = client.simulate_get("/v2/devices")
    assert (listed.status_code, listed.json) == (200, {"devices": []})


@pytest.mark.slow
def test_gunicorn_serves_the_module_from_its_own_command_line(config, tmp_path):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, wsgi_api.CONFIG_ENV: str(config)}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                executable("gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--preload",  # imported before the fork: the app is still built per worker
                "cyborg_lite.wsgi.api:application",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if call("GET", f"{base}/healthcheck")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        status, _headers, body = call("GET", f"{base}/v2/devices")
        assert status == 200, body
    finally:
        proc.terminate()
        proc.wait(timeout=30)
