"""Real Placement for tests: ``openstack-placement`` (PyPI) served by gunicorn on loopback.

``running_placement`` writes a ``placement.conf`` (SQLite, ``auth_strategy = noauth2``,
``sync_on_startup`` so the schema is created by the app itself, as ``placement-manage db sync``
would), starts ``placement.wsgi.api:application`` in its own process group on a free port,
waits for ``GET /`` and yields the base URL. With noauth2 every request sends
``x-auth-token: admin`` (keystoneauth1's ``admin_token`` plugin does that for cyborg-lite).

Tests isolate themselves with unique host names, so one Placement serves a whole session.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from tests.functional import servers

START_TIMEOUT = 60.0
MICROVERSION = "1.36"


def available() -> str | None:
    """Why Placement cannot be started here, or None."""
    if importlib.util.find_spec("placement") is None:
        return "openstack-placement is not installed (pip install -e '.[test]')"
    if not (Path(sys.executable).parent / "gunicorn").exists():
        return "gunicorn is not installed next to the test Python"
    return None


@contextlib.contextmanager
def running_placement(folder: Path) -> Iterator[str]:
    """Serve Placement from ``folder`` (config, SQLite file, log); yields its base URL."""
    port = servers.free_port()
    (folder / "placement.conf").write_text(
        "[DEFAULT]\ndebug = False\n"
        "[api]\nauth_strategy = noauth2\n"
        f"[placement_database]\nconnection = sqlite:///{folder / 'placement.sqlite'}\n"
        "sync_on_startup = True\n"
    )
    log = folder / "placement.log"
    env = {**os.environ, "OS_PLACEMENT_CONFIG_DIR": str(folder)}
    with log.open("wb") as out:
        # One sync worker: SQLite takes one writer at a time anyway.
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--no-control-socket",
                "placement.wsgi.api:application",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Placement exited with {proc.returncode}: {log.read_text()}")
            with contextlib.suppress(OSError):
                if call(url, "GET", "/resource_providers")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Placement did not answer in {START_TIMEOUT}s")
            time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def call(
    url: str, method: str, path: str, body: Any = None, *, version: str = MICROVERSION
) -> tuple[int, Any]:
    """One request to Placement as a client like Nova sends it; returns (status, JSON|None)."""
    headers = {"x-auth-token": "admin", "OpenStack-API-Version": f"placement {version}"}
    status, _headers, raw = servers.call(method, url + path, body, headers)
    return status, json.loads(raw) if raw else None


def conf_overrides(url: str, group: str = "placement") -> dict[str, Any]:
    """cyborg-lite options pointing ``[group]`` at ``url`` with keystoneauth1's
    ``admin_token`` plugin (Placement's noauth2 takes token ``admin``), for a config file."""
    return {
        f"{group}.auth_type": "admin_token",
        f"{group}.endpoint": url,
        f"{group}.token": "admin",
    }


def point_at(conf: cfg.ConfigOpts, url: str, group: str = "placement") -> cfg.ConfigOpts:
    """Set ``conf_overrides`` on a ConfigOpts. The plugin's own options (``endpoint``,
    ``token``) exist only once keystoneauth1 loads it, so they are registered here first."""
    conf.register_opts(ks_loading.get_auth_plugin_conf_options("admin_token"), group=group)
    for key, value in conf_overrides(url, group).items():
        conf.set_override(key.split(".", 1)[1], value, group=group)
    return conf
