"""The thread that drives the lending engine: woken by ``pool_changed``, otherwise asleep
until a pool is due (a window opening or closing, a device idle long enough, a reclaim
deadline, a failed Nova action's retry) or the sweep (``[lending] sweep_seconds``), which
passes over every pool and repairs a lost cast or another conductor's work. Like the rollout
runner, it never polls the database in a tight loop."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from oslo_log import log as logging

from cyborg_lite.conductor.lending import LendingEngine
from cyborg_lite.db import models

LOG = logging.getLogger(__name__)


class LendingRunner:
    """Runs passes on events and when due; one per conductor."""

    def __init__(
        self,
        engine: LendingEngine,
        *,
        sweep_seconds: float,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self.engine = engine
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._woken: set[str] = set()
        self._due: dict[str, dt.datetime] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sweep: dt.datetime | None = None

    def notify(self, pool_uuid: str) -> None:
        """Pass over ``pool_uuid`` as soon as possible (the conductor's ``pool_changed``)."""
        with self._lock:
            self._woken.add(pool_uuid)
        self._wake.set()

    def step(self) -> None:
        """Woken pools, then due ones, then the sweep when it is time."""
        now = self._clock()
        with self._lock:
            woken, self._woken = self._woken, set()
            due = {u for u, at in self._due.items() if at <= now}
        for uuid in sorted(woken | due):
            self._pass(uuid)
        if self._next_sweep is None or now >= self._next_sweep:
            self._next_sweep = now + dt.timedelta(seconds=self._sweep_seconds)
            try:
                pools = self.engine.pool_uuids()
            except Exception:  # a database hiccup; the next sweep tries again
                LOG.exception("Could not list lending pools")
                return
            for uuid in pools:
                self._pass(uuid)

    def _pass(self, uuid: str) -> None:
        try:
            outcome = self.engine.run_pass(uuid)
        except Exception:  # one pool's trouble must not stop the others; the sweep retries
            LOG.exception("Lending pass over pool %s failed", uuid)
            return
        with self._lock:
            if outcome.next_due is None or not outcome.found:
                self._due.pop(uuid, None)
            else:
                self._due[uuid] = outcome.next_due

    def seconds_to_next(self) -> float:
        """How long the thread may sleep: until the sweep or the earliest due pool."""
        now = self._clock()
        candidates = [self._next_sweep] if self._next_sweep else [now]
        with self._lock:
            candidates += list(self._due.values())
        return max(0.05, (min(candidates) - now).total_seconds())

    def run(self) -> None:
        """The thread's loop."""
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # keep lending whatever one pass hit
                LOG.exception("Lending runner pass failed")
            self._wake.wait(timeout=self.seconds_to_next())
            self._wake.clear()

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self.run, name="lending-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after the current pass."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
