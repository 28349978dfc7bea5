"""A minimal Nova endpoint on loopback for Cyborg's bind: version discovery, ``GET
/v2.1/servers/<id>`` and ``POST /v2.1/os-server-external-events``, all answered 200.

Cyborg 17 answers a bind with a 500 unless Nova accepts the ``accelerator-request-bound``
event. Run as ``python -m benchmarks.fake_nova PORT``.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast


class Handler(BaseHTTPRequestHandler):
    """Answers what Cyborg asks of Nova."""

    protocol_version = "HTTP/1.1"

    def _send(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """Version documents and servers."""
        # A TCP server: its address is (host, port); typeshed allows any socket family here.
        port = cast(tuple[str, int], self.server.server_address)[1]
        version = {
            "id": "v2.1",
            "status": "CURRENT",
            "version": "2.96",
            "min_version": "2.1",
            "links": [{"rel": "self", "href": f"http://127.0.0.1:{port}/v2.1/"}],
        }
        if "/servers/" in self.path:
            server_id = self.path.rsplit("/", 1)[1]
            self._send({"server": {"id": server_id, "status": "BUILD", "name": server_id}})
        elif self.path.rstrip("/").endswith("v2.1"):
            self._send({"version": version})
        else:
            self._send({"versions": [version]})

    def do_POST(self) -> None:
        """External events: accepted, echoed with code 200."""
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        events = [{**e, "code": 200} for e in body.get("events", [])]
        self._send({"events": events})

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the benchmark does not need an access log."""


def main() -> None:
    """Serve on 127.0.0.1:``argv[1]`` until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
