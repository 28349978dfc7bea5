"""Support for the tests that drive real, unmodified OpenStack clients against cyborg-lite.

``fake_compute`` is the little of Nova's compute API that a client asks before it binds an
ARQ (version discovery and ``GET /v2.1/servers/<id>``). ``write_clouds_yaml`` writes the
``clouds.yaml`` a user would to reach a cloud without Keystone: the accelerator endpoint, and
the compute endpoint that ``--os-endpoint`` cannot name (with ``auth_type: none`` every
service would otherwise go to the one endpoint). ``VenvOsc`` runs the ``openstack`` command
of a client venv (``tests/client_venvs.py``) as ``cli_support.Osc`` runs the project's own.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.metadata
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests import client_venvs
from tests.functional.cli_support import Osc

CLOUD = "lite"  # the cloud's name in the clouds.yaml below
OSC_VERSION = "10.5.0"  # python-openstackclient in the project's venv


class FakeCompute:
    """The servers the fake compute API knows (id to name), and the paths it was asked."""

    def __init__(self) -> None:
        self.servers: dict[str, str] = {}
        self.paths: list[str] = []
        self.url = ""  # the compute endpoint, ending in /v2.1


def _version(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "min_version": "2.1",
        "version": "2.96",
        "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
    }


def _compute_handler(compute: FakeCompute) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            compute.paths.append(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            path = self.path.split("?")[0].rstrip("/")
            if path == "":
                self._send(200, {"versions": [_version(base)]})
            elif path == "/v2.1":
                self._send(200, {"version": _version(base)})
            elif path.startswith("/v2.1/servers/") and path.count("/") == 3:
                self._server(path.rsplit("/", 1)[1])
            else:
                self._send(404, {"itemNotFound": {"code": 404, "message": "Not found"}})

        def _server(self, server_id: str) -> None:
            if server_id == "detail":  # a lookup by name, after the one by id found nothing
                self._send(200, {"servers": []})
                return
            name = compute.servers.get(server_id)
            if name is None:
                message = f"Instance {server_id} could not be found."
                self._send(404, {"itemNotFound": {"code": 404, "message": message}})
                return
            self._send(200, {"server": {"id": server_id, "name": name, "status": "BUILD"}})

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@contextlib.contextmanager
def fake_compute() -> Iterator[FakeCompute]:
    """Serve a ``FakeCompute`` on a free loopback port."""
    compute = FakeCompute()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _compute_handler(compute))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    compute.url = f"http://127.0.0.1:{server.server_address[1]}/v2.1"
    try:
        yield compute
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_clouds_yaml(home: Path, accelerator_url: str, compute_url: str) -> None:
    """``~/.config/openstack/clouds.yaml`` naming cloud ``CLOUD`` without Keystone.

    JSON is valid YAML, so the file is written with ``json`` (no YAML writer needed)."""
    cloud = {
        "auth_type": "none",
        "auth": {"endpoint": accelerator_url},
        "accelerator_endpoint_override": accelerator_url,
        "compute_endpoint_override": compute_url,
    }
    folder = home / ".config" / "openstack"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "clouds.yaml").write_text(json.dumps({"clouds": {CLOUD: cloud}}, indent=2))


class VenvOsc(Osc):
    """``openstack`` from a client venv against one cyborg-lite, as a user runs it.

    Without ``auth`` a command uses ``--os-auth-type none --os-endpoint <url>/v2``; pass
    ``CLOUD_AUTH`` to go through the clouds.yaml (needed where compute is asked too)."""

    def __init__(self, venv: Path, base_url: str, home: Path) -> None:
        super().__init__(base_url, home)
        self.openstack = client_venvs.script(venv, "openstack")

    def argv(
        self, args: Sequence[str], auth: Sequence[str] | None = None, options: Sequence[str] = ()
    ) -> list[str]:
        """The full command line, as ``Osc.argv`` but with this venv's ``openstack``."""
        if auth is None:
            auth = ["--os-auth-type", "none", "--os-endpoint", f"{self.base_url}/v2"]
        return [self.openstack, *auth, *options, "accelerator", *args]


CLOUD_AUTH = ["--os-cloud", CLOUD]


def request(debug_log: str, method: str, path: str) -> str:
    """The ``REQ: curl ...`` line that ``--debug`` logged for ``method`` on a URL ending in
    ``path`` (headers included): what the client really sent."""
    for line in debug_log.splitlines():
        if line.startswith(f"REQ: curl -g -i -X {method} ") and f"{path} " in line:
            return line
    raise AssertionError(f"no {method} {path} in the client's --debug log")


def commands(venv: Path, module_prefix: str) -> set[str]:
    """The ``openstack accelerator ...`` commands that ``venv``'s installed distributions
    register from modules under ``module_prefix`` (the leading ``accelerator`` dropped)."""
    site = [str(p) for p in (venv / "lib").glob("python3*/site-packages")]
    found = set()
    for dist in importlib.metadata.distributions(path=site):
        for ep in dist.entry_points.select(group="openstack.accelerator.v2"):
            if ep.value.startswith(module_prefix):
                found.add(ep.name.removeprefix("accelerator_").replace("_", " "))
    return found


# The accelerator commands both upstream CLIs register (OSC's in-tree module and
# python-cyborgclient 3.0.0 name the same ones) that work against Cyborg, and so here.
UPSTREAM_COMMANDS = frozenset({
    "device list", "device show", "device disable", "device enable",
    "deployable list", "deployable show",
    "device attribute create", "device attribute list", "device attribute show",
    "device attribute delete",
    "device profile create", "device profile list", "device profile show",
    "device profile delete",
    "arq create", "arq list", "arq show", "arq bind", "arq unbind", "arq delete",
})  # fmt: skip
