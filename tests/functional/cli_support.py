"""The real ``openstack`` command against a real ``cyborg-lite-aio``, for the CLI tests.

``running_aio`` starts the all-in-one in its own process group on a free loopback port (a
small simulated fleet, fast simulated flashes) and kills the whole group on the way out.
``Osc`` runs ``openstack --os-auth-type none --os-endpoint <url>/v2 ...`` as a user types it,
with a private HOME so no clouds.yaml or OS_* variable of the developer's leaks in; ``many``
runs independent invocations at once, since each one spends a second or two starting up.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.functional.servers import call, executable, free_port
from tests.waiting import wait_for

SIMULATED_HOSTS = 2
DEVICES_PER_HOST = 5  # the simulated driver's default fleet: 2 H100, MI300X, N6001, U280
V24 = {"OpenStack-API-Version": "accelerator 2.4"}


@contextlib.contextmanager
def running_aio(
    folder: Path,
    extra_conf: str = "",
    *,
    env: Mapping[str, str] | None = None,
    devices: int | None = None,
) -> Iterator[str]:
    """Serve the all-in-one from ``folder``; yields its base URL once the fleet reported.
    ``extra_conf`` is appended to its configuration file (e.g. a ``[nova]`` section); ``env``
    adds variables to the environment it inherits (its agents' vendor tools see them);
    ``devices`` is how many devices make the fleet complete (default: the simulated fleet's,
    which a ``[aio] simulated_hosts`` in ``extra_conf`` changes)."""
    expected = SIMULATED_HOSTS * DEVICES_PER_HOST if devices is None else devices
    port = free_port()
    conf = folder / "aio.conf"
    conf.write_text(
        f"[DEFAULT]\nstate_path = {folder / 'state'}\n"
        f"[api]\nhost = 127.0.0.1\nport = {port}\n"
        f"[aio]\nsimulated_hosts = {SIMULATED_HOSTS}\nlocal_agent = false\n"
        # Agents fetch images from the API, which is not on its default port here.
        f"[agent]\napi_endpoint = http://127.0.0.1:{port}\n"
        "[simulated]\nflash_seconds = 0.1\n" + extra_conf
    )
    log = (folder / "aio.log").open("ab")
    proc = subprocess.Popen(
        [executable("cyborg-lite-aio"), "--config-file", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env} if env else None,
        start_new_session=True,  # its own process group, killed whole below
    )
    base = f"http://127.0.0.1:{port}"

    def fleet() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"cyborg-lite-aio exited with {proc.returncode}; see {log.name}")
        with contextlib.suppress(OSError):
            status, _, body = call("GET", f"{base}/v2/devices")
            return status == 200 and len(json.loads(body)["devices"]) == expected
        return False

    try:
        wait_for("the simulated fleet in the all-in-one", fleet, timeout=60)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of the group may outlive the tests
        log.close()


class Osc:
    """Runs ``openstack`` against one endpoint."""

    def __init__(self, base_url: str, home: Path) -> None:
        self.base_url = base_url
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "OPENSTACK"))}
        self.env.update(HOME=str(home), PYTHONWARNINGS="ignore", COLUMNS="200")

    def argv(
        self, args: Sequence[str], auth: Sequence[str] | None = None, options: Sequence[str] = ()
    ) -> list[str]:
        """The full command line: ``auth`` (noauth by default) and global ``options`` first."""
        if auth is None:
            auth = ["--os-auth-type", "none", "--os-endpoint", f"{self.base_url}/v2"]
        return [executable("openstack"), *auth, *options, "accelerator", *args]

    def start(
        self, *args: str, auth: Sequence[str] | None = None, options: Sequence[str] = ()
    ) -> subprocess.Popen[bytes]:
        """Start one invocation; stdout and stderr are pipes (bytes: see ``finish``)."""
        return subprocess.Popen(
            self.argv(args, auth, options),
            cwd=self.home,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def run(
        self,
        *args: str,
        ok: bool = True,
        timeout: float = 60,
        auth: Sequence[str] | None = None,
        options: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """One invocation; with ``ok`` it must exit 0 (the failure shows its stderr)."""
        return finish(self.start(*args, auth=auth, options=options), ok, timeout)

    def json(self, *args: str) -> Any:
        """``-f json`` output, decoded."""
        return json.loads(self.run(*args, "-f", "json").stdout)

    def many(self, *commands: Sequence[str]) -> list[subprocess.CompletedProcess[str]]:
        """Independent invocations at once, each of which must succeed."""
        started = [self.start(*c) for c in commands]
        return [finish(p, True, 60) for p in started]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """The REST API directly (at 2.4), for set-up the CLI is not under test for."""
        status, _, raw = call(method, f"{self.base_url}/v2{path}", body, V24)
        assert status < 300, (status, raw)
        return json.loads(raw) if raw else None


def finish(
    proc: subprocess.Popen[bytes], ok: bool, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Wait for ``proc``; kill it at ``timeout``. Output is decoded as text, and the raw
    stdout kept as ``.raw`` (``image download`` writes an image's bytes there)."""
    try:
        raw, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raw, err = proc.communicate()
        raise AssertionError(f"{proc.args} ran past {timeout}s:\n{raw!r}\n{err!r}") from None
    done = subprocess.CompletedProcess(
        proc.args, proc.returncode, raw.decode(errors="replace"), err.decode(errors="replace")
    )
    done.raw = raw  # type: ignore[attr-defined]
    if ok and done.returncode != 0:
        raise AssertionError(f"{proc.args} exited {done.returncode}:\n{done.stderr}\n{done.stdout}")
    return done


def table(text: str) -> list[list[str]]:
    """The rows of a cliff table (header row first), cells stripped."""
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]


class _Keystone(http.server.BaseHTTPRequestHandler):
    """Just enough of Keystone v3 for keystoneauth's password plugin: version discovery and
    a token whose catalog names the accelerator endpoint (``server.catalog_url``)."""

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._send(200, {"version": {"id": "v3.14", "status": "stable", "links": [
            {"rel": "self", "href": f"{base}/v3/"}]}})  # fmt: skip

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.tokens_issued += 1  # type: ignore[attr-defined]
        domain = {"id": "default", "name": "Default"}
        endpoint = {"id": "e1", "interface": "public", "region": "RegionOne",
                    "region_id": "RegionOne", "url": self.server.catalog_url}  # type: ignore[attr-defined]  # fmt: skip
        token = {
            "methods": ["password"],
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "operator", "domain": domain},
            "project": {"id": "p1", "name": "ops", "domain": domain},
            "roles": [{"id": "r1", "name": "admin"}],
            "catalog": [
                {"id": "s1", "type": "accelerator", "name": "cyborg", "endpoints": [endpoint]}
            ],
        }
        self._send(201, {"token": token}, {"X-Subject-Token": "fake-token"})

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


@contextlib.contextmanager
def fake_keystone(catalog_url: str) -> Iterator[http.server.ThreadingHTTPServer]:
    """A loopback Keystone whose catalog sends ``accelerator`` to ``catalog_url``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Keystone)
    server.catalog_url = catalog_url  # type: ignore[attr-defined]
    server.tokens_issued = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def keystone_auth(server: http.server.ThreadingHTTPServer) -> list[str]:
    """Password-auth options for ``fake_keystone``."""
    return [
        "--os-auth-url", f"http://127.0.0.1:{server.server_address[1]}/v3",
        "--os-username", "operator", "--os-password", "secret", "--os-project-name", "ops",
        "--os-user-domain-name", "Default", "--os-project-domain-name", "Default",
        "--os-identity-api-version", "3", "--os-interface", "public",
    ]  # fmt: skip
