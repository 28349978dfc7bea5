"""Real processes for tests: ``cyborg-lite-api`` (gunicorn) started as an operator would.

``running_api`` writes a config file, runs ``cyborg-lite-manage db upgrade``, starts
``cyborg-lite-api`` in its own process group on a free loopback port, waits for
``/healthcheck`` and yields the base URL. On the way out it stops the server with SIGTERM
(gunicorn's graceful shutdown) and fails the test if it did not exit cleanly; if anything went
wrong, the whole process group is killed so no worker outlives the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CYBORG_PORT = 6666  # never used by tests: a developer's own service may be on it


def free_port() -> int:
    """A loopback port that was free a moment ago (bound with port 0, then released)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != CYBORG_PORT:
            return port


def sqlite_url(tmp_path: Path) -> str:
    """The database ``running_api`` uses unless ``database.connection`` is overridden."""
    return f"sqlite:///{tmp_path / 'cyborg-lite.sqlite'}"


def executable(name: str) -> str:
    """A console script of this virtualenv (next to the Python running the tests)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise RuntimeError(f"{name} is not installed next to {sys.executable}; run make venv")
    return str(path)


def write_config(path: Path, options: Mapping[str, Any]) -> None:
    """Write ``{"group.name": value}`` (no group: ``[DEFAULT]``) as an oslo.config file."""
    groups: dict[str, list[str]] = {}
    for key, value in options.items():
        group, _, name = key.rpartition(".")
        groups.setdefault(group or "DEFAULT", []).append(f"{name} = {value}")
    path.write_text("".join(f"[{g}]\n" + "\n".join(lines) + "\n" for g, lines in groups.items()))


def call(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request (JSON body if given); returns status, lower-cased headers, raw body."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"tests only talk to loopback servers, not {url}")
    data = json.dumps(body).encode() if body is not None else None
    # S310 warns about file:// and custom schemes; the URL was checked to be loopback HTTP.
    request = urllib.request.Request(url, data, headers or {}, method=method)  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def _log_tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cyborg-lite-api exited with {proc.returncode}:\n{_log_tail(log)}")
        with contextlib.suppress(OSError):
            if call("GET", f"{base_url}/healthcheck")[0] == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"cyborg-lite-api not healthy in {START_TIMEOUT}s:\n{_log_tail(log)}")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT)


def _stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM the master and wait; gunicorn stops its workers and exits 0."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise RuntimeError(f"cyborg-lite-api ignored SIGTERM:\n{_log_tail(log)}") from None
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        pass  # the whole group is gone, as it should be
    else:
        _kill_group(proc)
        raise RuntimeError("cyborg-lite-api left processes behind after it exited")
    if code != 0:
        raise RuntimeError(f"cyborg-lite-api exited with {code}:\n{_log_tail(log)}")


@contextlib.contextmanager
def running_api(conf_overrides: Mapping[str, Any], tmp_path: Path) -> Iterator[str]:
    """Serve the API from a real ``cyborg-lite-api`` process; yields its base URL.

    ``conf_overrides`` use the ``group.option`` keys of ``tests.conftest.make_test_conf``
    (e.g. ``{"api.workers": 1}``). By default: 2 workers, a SQLite database at
    ``sqlite_url(tmp_path)`` (open it with ``Database`` to seed), noauth.
    """
    port = free_port()
    options: dict[str, Any] = {
        "state_path": tmp_path / "state",
        "host": "test-host",
        "api.host": "127.0.0.1",
        "api.port": port,
        "api.workers": 2,
        "api.threads": 2,
        "database.connection": sqlite_url(tmp_path),
        **conf_overrides,
    }
    config = tmp_path / "cyborg-lite-api.conf"
    write_config(config, options)
    log = tmp_path / "cyborg-lite-api.log"
    subprocess.run(
        [executable("cyborg-lite-manage"), "--config-file", str(config), "db", "upgrade"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [executable("cyborg-lite-api"), "--config-file", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so workers can be killed with it
        )
    base_url = f"http://127.0.0.1:{options['api.port']}"
    try:
        _wait_healthy(proc, base_url, log)
        yield base_url
    except BaseException:
        _kill_group(proc)
        raise
    _stop(proc, log)
