"""A stand-in for Nova's compute API that records what cyborg-lite sends it.

It answers ``POST .../os-server-external-events`` with ``status`` (200 by default; 207 with
per-event codes like Nova's partial success) and anything else with 404. Loopback only.
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

    def events(self) -> list[dict[str, Any]]:
        """Every event received, in order."""
        return [e for r in self.received for e in r["body"]["events"]]


def _handler(recorder: Recorder) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.endswith("/os-server-external-events"):
                self.send_error(404)
                return
            body = json.loads(raw)
            recorder.received.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            code = 422 if recorder.status == 207 else 200
            answer = {"events": [{**e, "code": code} for e in body["events"]]}
            data = json.dumps(answer).encode()
            self.send_response(recorder.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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
