"""The conductor's Placement thread: host syncs asked for after reports, and the periodic
full sync that repairs drift.

Reports are answered without waiting for Placement (an agent's RPC call should not hang on
another service): ``request(hostname)`` queues the host, and this thread syncs it. Requests
for one host coalesce, so a burst of reports costs one sync. The periodic repair covers the
hosts this conductor ``owns`` (the hash ring's share, issue 18), so N conductors repair the
fleet once between them, not N times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from oslo_log import log as logging

from cyborg_lite.placement.sync import ProviderSync

LOG = logging.getLogger(__name__)


class SyncWorker:
    """Runs ``ProviderSync`` off the RPC threads: queued hosts first, everything periodically."""

    def __init__(
        self, sync: ProviderSync, interval: float, *, owns: Callable[[str], bool] | None = None
    ) -> None:
        self.sync = sync
        self._interval = interval
        self._owns = owns
        self._pending: set[str] = set()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self, hostname: str) -> None:
        """Sync ``hostname`` soon (after its report was applied)."""
        with self._cond:
            self._pending.add(hostname)
            self._cond.notify()

    def start(self) -> None:
        """Start the thread; its first pass is a full sync (a restarted conductor repairs)."""
        self._thread = threading.Thread(target=self._loop, name="placement-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the sync in progress."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        next_full = time.monotonic()
        while True:
            with self._cond:
                while not self._stopping and not self._pending:
                    wait = next_full - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    return
                hosts, self._pending = sorted(self._pending), set()
            try:
                if time.monotonic() >= next_full:
                    next_full = time.monotonic() + self._interval
                    self.sync.sync_all(owns=self._owns)
                else:
                    for hostname in hosts:
                        self.sync.sync_host(hostname)
            except Exception:  # a database hiccup must not end the thread
                LOG.exception("Placement sync failed; retried at the next request or period")
