"""The one load generator both systems face: asyncio, HTTP/1.1 keep-alive, loopback only.

Each of ``concurrency`` workers holds one keep-alive connection and sends its next request as
soon as the previous answer is read (a closed loop), for a bounded time and request count.
Latency is measured per request (or per scheduler cycle) with ``time.perf_counter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost")


class HTTPError(Exception):
    """A response that was not what the workload expected."""


@dataclass
class Response:
    """A parsed HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str]) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the benchmark only targets loopback, not {host}")
        self.host, self.port = host, port
        self._headers = dict(headers)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        """Close the socket."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = self._reader = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and read its whole response."""
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        merged = {**self._headers, **(headers or {})}
        if body is not None:
            merged.setdefault("Content-Type", "application/json")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            merged["Content-Length"] = str(len(payload))
        lines += [f"{k}: {v}" for k, v in merged.items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        for attempt in (0, 1):
            if self._writer is None:
                await self._connect()
            assert self._reader is not None
            assert self._writer is not None
            try:
                self._writer.write(raw)
                return await self._read()
            except (ConnectionError, asyncio.IncompleteReadError):
                # A keep-alive connection the server closed between requests: retry once
                # on a fresh one (requests here are idempotent or failed before a reply).
                await self.close()
                self.reconnects += 1
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _read(self) -> Response:
        assert self._reader is not None
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        elif "content-length" in headers:
            body = await self._reader.readexactly(int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = await self._reader.read()  # until close
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)


@dataclass
class RunResult:
    """What one closed-loop run measured."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Completed operations per second."""
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0


Operation = Callable[[Connection, int, int], Awaitable[None]]


async def _closed_loop(
    base_url: str,
    headers: Mapping[str, str],
    operation: Operation,
    concurrency: int,
    seconds: float,
    max_ops: int,
    warmup: float,
) -> RunResult:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    result = RunResult()
    started = time.perf_counter()
    measure_from = started + warmup
    deadline = measure_from + seconds
    # A slow system may not finish enough operations in the window to say anything: keep
    # going until each worker has completed two measured ones, within a hard bound.
    hard_stop = deadline + 4 * seconds + 10.0
    wanted = 2 * concurrency
    done: list[float] = []  # completion times of measured operations

    def more() -> bool:
        now = time.perf_counter()
        if len(done) >= max_ops or now >= hard_stop:
            return False
        return now < deadline or len(done) < wanted

    async def worker(index: int) -> None:
        conn = Connection(host, port, headers)
        seq = 0
        try:
            while more():
                t0 = time.perf_counter()
                try:
                    await operation(conn, index, seq)
                except Exception as err:  # count it; a failing system shows as errors
                    result.errors += 1
                    if not result.first_error:
                        result.first_error = f"{type(err).__name__}: {err}"[:300]
                    await conn.close()
                    if result.errors > 1000:
                        return
                    continue
                finally:
                    seq += 1
                t1 = time.perf_counter()
                # An operation counts when it completes in the window, wherever it began.
                if t1 >= measure_from:
                    result.latencies.append(t1 - t0)
                    done.append(t1)
        finally:
            await conn.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    end = max(done) if done else time.perf_counter()
    result.elapsed = max(1e-9, end - measure_from)
    return result


def run(
    base_url: str,
    headers: Mapping[str, str],
    operation: Operation,
    *,
    concurrency: int,
    seconds: float,
    max_ops: int = 1_000_000,
    warmup: float = 1.0,
) -> RunResult:
    """Run ``operation`` in a closed loop from ``concurrency`` workers for ``seconds``
    (after ``warmup`` seconds not measured), at most ``max_ops`` measured operations."""
    return asyncio.run(
        _closed_loop(base_url, headers, operation, concurrency, seconds, max_ops, warmup)
    )


def get(path: str, expect: int = 200) -> Operation:
    """An operation that GETs ``path`` and checks the status."""

    async def op(conn: Connection, _index: int, _seq: int) -> None:
        resp = await conn.request("GET", path)
        if resp.status != expect:
            raise HTTPError(f"GET {path}: {resp.status} {resp.body[:200]!r}")

    return op


async def call(
    conn: Connection, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)
) -> Response:
    """One request that must answer one of ``expect``."""
    resp = await conn.request(method, path, body)
    if resp.status not in expect:
        raise HTTPError(f"{method} {path}: {resp.status} {resp.body[:300]!r}")
    return resp


def one_shot(
    base_url: str, headers: Mapping[str, str], method: str, path: str, body: Any = None
) -> Response:
    """A single request outside any load run (seeding, discovery of ids)."""
    url = urlsplit(base_url)

    async def go() -> Response:
        conn = Connection(url.hostname or "127.0.0.1", url.port or 80, headers)
        try:
            return await conn.request(method, path, body)
        finally:
            await conn.close()

    return asyncio.run(go())
