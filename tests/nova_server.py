"""A stand-in for Nova's compute API that records what cyborg-lite sends it.

It answers ``POST .../os-server-external-events`` with ``status`` (200 by default; 207 with
per-event codes like Nova's partial success). For the lending engine's reclaim it keeps
``servers`` (uuid -> status) and answers as Nova does: ``GET /servers/{id}`` the server's
``status`` or 404; ``POST /servers/{id}/action`` with ``os-stop`` (ACTIVE -> SHUTOFF) or
``shelve`` (ACTIVE or SHUTOFF -> SHELVED_OFFLOADED, as with ``shelved_offload_time = 0``)
202, and 409 in a state the action does not apply to (Nova's "Cannot 'os-stop' instance
while it is in vm_state stopped"); ``DELETE /servers/{id}`` 204 (then 404). ``fail_actions``
answers that many action or delete requests 503 first; ``lazy`` accepts actions without
carrying them out (the server keeps its status). Anything else is 404. Loopback only.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

from tests.functional import servers


class Recorder:
    """What the endpoint received, and what it answers."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self.url = ""
        self.servers: dict[str, str] = {}
        self.actions: list[tuple[str, str]] = []
        self.fail_actions = 0
        self.lazy = False

    def events(self) -> list[dict[str, Any]]:
        """Every event received, in order."""
        return [e for r in self.received for e in r["body"]["events"]]


# What each action needs the server to be in, and what it becomes.
_ACTIONS = {
    "os-stop": ({"ACTIVE"}, "SHUTOFF"),
    "shelve": ({"ACTIVE", "SHUTOFF"}, "SHELVED_OFFLOADED"),
}


def _server_id(path: str, suffix: str = "") -> str | None:
    parts = path.rstrip("/").split("/")
    if suffix:
        if parts[-1] != suffix:
            return None
        parts = parts[:-1]
    return parts[-1] if len(parts) >= 2 and parts[-2] == "servers" else None


def _handler(recorder: Recorder) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _failing(self) -> bool:
            if recorder.fail_actions > 0:
                recorder.fail_actions -= 1
                self._answer(503, {"error": "Nova is unavailable"})
                return True
            return False

        def do_GET(self) -> None:
            server = _server_id(self.path)
            if server is None or server not in recorder.servers:
                self._answer(404, {"itemNotFound": {"code": 404}})
                return
            self._answer(200, {"server": {"id": server, "status": recorder.servers[server]}})

        def do_DELETE(self) -> None:
            server = _server_id(self.path)
            recorder.actions.append((str(server), "delete"))
            if self._failing():
                return
            if server is None or server not in recorder.servers:
                self._answer(404, {"itemNotFound": {"code": 404}})
                return
            if not recorder.lazy:
                del recorder.servers[server]
            self._answer(204)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server = _server_id(self.path, "action")
            if server is not None:
                self._action(server, json.loads(raw))
                return
            if not self.path.endswith("/os-server-external-events"):
                self.send_error(404)
                return
            body = json.loads(raw)
            recorder.received.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            code = 422 if recorder.status == 207 else 200
            answer = {"events": [{**e, "code": code} for e in body["events"]]}
            self._answer(recorder.status, answer)

        def _action(self, server: str, body: dict[str, Any]) -> None:
            [name] = body
            recorder.actions.append((server, name))
            if self._failing():
                return
            if server not in recorder.servers:
                self._answer(404, {"itemNotFound": {"code": 404}})
                return
            if name not in _ACTIONS:
                self._answer(400, {"badRequest": {"message": f"unknown action {name}"}})
                return
            allowed, becomes = _ACTIONS[name]
            if recorder.servers[server] not in allowed:
                message = f"Cannot '{name}' instance {server} in {recorder.servers[server]}"
                self._answer(409, {"conflictingRequest": {"message": message}})
                return
            if not recorder.lazy:
                recorder.servers[server] = becomes
            self._answer(202)

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@contextlib.contextmanager
def running_nova() -> Iterator[Recorder]:
    """Serve the recorder on a free loopback port; its ``url`` is the compute endpoint."""
    recorder = Recorder()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", servers.free_port()), _handler(recorder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}/v2.1"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
