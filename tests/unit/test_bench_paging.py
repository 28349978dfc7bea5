"""The paging workload against a small HTTP server that pages like ``GET /v2/devices``: only
full pages are timed, and a walk starts over at the end of the collection."""

from __future__ import annotations

import http.server
import json
import threading
import types
import urllib.parse

import pytest

from benchmarks import workloads


def serve(total):
    """A keep-alive server paging ``total`` devices by marker; returns (server, requests)."""
    uuids = [f"dev-{i:05d}" for i in range(total)]
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            limit = int(query["limit"][0])
            marker = query.get("marker", [None])[0]
            start = uuids.index(marker) + 1 if marker else 0
            requests.append(marker)
            body = json.dumps(
                {"devices": [{"uuid": u} for u in uuids[start : start + limit]]}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, requests


@pytest.fixture
def paged():
    servers = []

    def start(total):
        server, requests = serve(total)
        servers.append(server)
        port = server.server_address[1]
        system = types.SimpleNamespace(name="t", base_url=f"http://127.0.0.1:{port}")
        return system, requests

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_only_full_pages_are_timed_and_walks_start_over(paged):
    system, requests = paged(2500)  # two full pages and a short one per walk
    out = workloads.paging(system, pages=5)
    assert out["pages"] == 5.0
    assert out["walks"] == 3.0
    # Walk 1: full, full, short; walk 2: the same; walk 3: one full page, then enough.
    assert requests == [None, "dev-00999", "dev-01999"] * 2 + [None]
    assert out["p50"] > 0
    assert out["first"] > 0
    assert out["last"] > 0


def test_a_collection_without_a_full_page_times_nothing(paged):
    system, requests = paged(10)
    out = workloads.paging(system, pages=5)
    assert out["pages"] == 0.0
    assert requests == [None]
