"""Helpers for the agent's firmware job tests: a conductor that records job updates, a tiny
loopback image server, simulated images and job payloads, and the simulated driver's ledger."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keystoneauth1 import session as ks_session

from cyborg_lite.agent import images, jobs, jobstate
from cyborg_lite.agent.manager import AgentManager
from cyborg_lite.drivers.simulated import IMAGE_HEADER, SimulatedDriver
from cyborg_lite.firmware import states


class FakeConductor:
    """Records every ``job_update`` (and reports); ``down`` or ``fail`` > 0 makes calls raise,
    as an unreachable conductor would (``fail`` counts down one per call)."""

    def __init__(self, fail: int = 0) -> None:
        self.updates: list[dict[str, Any]] = []
        self.reports: list[dict[str, Any]] = []
        self.fail = fail
        self.down = False
        self.lock = threading.Lock()

    def _reachable(self) -> None:
        if self.down:
            raise TimeoutError("conductor unreachable")
        if self.fail > 0:
            self.fail -= 1
            raise TimeoutError("conductor unreachable")

    def job_update(self, context, job_uuid, state, *, version=None, error_code=None, message=None):
        with self.lock:
            self._reachable()
            self.updates.append(
                {
                    "job_uuid": job_uuid,
                    "state": state,
                    "version": version,
                    "error_code": error_code,
                    "message": message,
                }
            )
            return {"accepted": True}

    def job_progress(self, context, job_uuid, state):
        self.job_update(context, job_uuid, state)

    def report_inventory(self, context, report):
        with self.lock:
            self._reachable()
            self.reports.append(report)
            return {"applied": True, "events": 0}

    def heartbeat(self, context, host, agent_version, digest):
        with self.lock:
            self._reachable()
            return {"report_wanted": False}

    def results(self, job_uuid: str | None = None) -> list[dict[str, Any]]:
        """The terminal updates received (of one job, when given)."""
        with self.lock:
            return [
                u
                for u in self.updates
                if u["state"] in states.TERMINAL and job_uuid in (None, u["job_uuid"])
            ]

    def states_of(self, job_uuid: str) -> list[str]:
        """Every state reported for a job, in order."""
        with self.lock:
            return [u["state"] for u in self.updates if u["job_uuid"] == job_uuid]


def image_bytes(component: str, version: str, filler: bytes = b"\x00" * 4096) -> bytes:
    """A simulated firmware image that flashes ``component`` to ``version``."""
    return f"{IMAGE_HEADER} component={component} version={version}\n".encode() + filler


class ImageServer:
    """Serves ``files`` (image uuid -> bytes, or an int status) on a free loopback port, and
    keeps the headers of each request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes | int] = {}
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append({k.lower(): v for k, v in self.headers.items()})
                parts = self.path.split("/")  # /v2/firmware_images/<uuid>/file
                found = server.files.get(parts[3] if len(parts) == 5 else "", 404)
                if isinstance(found, int):
                    self.send_response(found)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(found)))
                self.end_headers()
                self.wfile.write(found)

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output quiet

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def add(self, data: bytes | int) -> str:
        """Serve ``data`` under a new image uuid; returns it."""
        image_uuid = str(uuid.uuid4())
        self.files[image_uuid] = data
        return image_uuid

    @contextmanager
    def running(self) -> Iterator[ImageServer]:
        """Serve until the block ends."""
        self._thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()


def payload(
    stable_id: str,
    image_uuid: str,
    data: bytes,
    component: str,
    target: str,
    **extra: Any,
) -> dict[str, Any]:
    """A job as ``conductor.rollout_io.job_payload`` builds it."""
    return {
        "job_uuid": str(uuid.uuid4()),
        "rollout_uuid": str(uuid.uuid4()),
        "hostname": "test-host",
        "device_uuid": str(uuid.uuid4()),
        "stable_id": stable_id,
        "component": component,
        "image_uuid": image_uuid,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "target_version": target,
        "allow_reboot": False,
        "timeout": 60.0,
        **extra,
    }


def ledger(driver: SimulatedDriver) -> list[dict[str, Any]]:
    """Every flash attempt the simulated driver recorded."""
    path = Path(driver.ledger_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_runner(
    conf: Any,
    manager: AgentManager,
    conductor: FakeConductor,
    image_url: str,
    clock: Clock,
) -> jobs.JobRunner:
    """A runner as ``AgentService`` builds one, with a plain (noauth) session and no retries."""
    source = images.ImageSource(
        image_url,
        str(Path(conf.state_path) / "agent-downloads" / manager.host),
        ks_session.Session(),
    )
    store = jobstate.JobStore(jobstate.journal_path(conf.state_path, manager.host))
    return jobs.JobRunner(
        manager, conductor, store, source, discovery_timeout=5.0, retry_interval=10.0, clock=clock
    )
