"""The thread that drives rollouts: woken by events, otherwise asleep until something is due.

Events (a rollout created or acted on, a job result) advance a rollout at once. Beside them the
runner keeps each rollout's next due time (a bake ending, a window opening, a deadline) and
sweeps every ``[conductor] rollout_sweep_seconds`` to renew leases, check deadlines and
down hosts, and pick up rollouts another conductor left. It never polls the database in a
tight loop: between events and due times it sleeps.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from oslo_log import log as logging

from cyborg_lite.conductor.rollout import Engine
from cyborg_lite.conductor.rollout_watch import Watchdog
from cyborg_lite.db import hosts as db_hosts
from cyborg_lite.db import models
from cyborg_lite.db.engine import Database

LOG = logging.getLogger(__name__)


def down_hosts(db: Database) -> list[str]:
    """Hosts not up (their in-flight jobs cannot finish)."""
    with db.transaction() as session:
        return db_hosts.down(session)


class RolloutRunner:
    """Advances rollouts on events and when due; one per conductor."""

    def __init__(
        self,
        engine: Engine,
        watchdog: Watchdog,
        db: Database,
        *,
        sweep_seconds: float,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self._engine = engine
        self._watchdog = watchdog
        self._db = db
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._woken: set[str] = set()
        self._due: dict[str, dt.datetime] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sweep: dt.datetime | None = None

    def notify(self, rollout_uuid: str) -> None:
        """Advance ``rollout_uuid`` as soon as possible (from RPC threads)."""
        with self._lock:
            self._woken.add(rollout_uuid)
        self._wake.set()

    def step(self) -> None:
        """One pass: woken rollouts, then due ones, then the sweep when it is time."""
        now = self._clock()
        with self._lock:
            woken, self._woken = self._woken, set()
            due = {u for u, at in self._due.items() if at <= now}
        for uuid in sorted(woken | due):
            self._advance(uuid)
        if self._next_sweep is None or now >= self._next_sweep:
            self.sweep()
            self._next_sweep = now + dt.timedelta(seconds=self._sweep_seconds)

    def sweep(self) -> None:
        """Every unfinished rollout: renew the lease, advance, check deadlines and hosts."""
        down = down_hosts(self._db)
        for uuid in self._engine.unfinished():
            self._advance(uuid)
            try:
                self._watchdog.check(uuid, down)
            except Exception:  # one rollout's trouble must not stop the others
                LOG.exception("Watchdog failed on rollout %s", uuid)

    def _advance(self, uuid: str) -> None:
        try:
            wake = self._engine.advance(uuid)
        except Exception:  # the sweep retries; a database hiccup is not fatal
            LOG.exception("Advancing rollout %s failed", uuid)
            return
        with self._lock:
            if wake is None:
                self._due.pop(uuid, None)
            else:
                self._due[uuid] = wake

    def seconds_to_next(self) -> float:
        """How long the thread may sleep: until the sweep or the earliest due rollout."""
        now = self._clock()
        candidates = [self._next_sweep] if self._next_sweep else [now]
        with self._lock:
            candidates += list(self._due.values())
        soonest = min(candidates)
        return max(0.05, (soonest - now).total_seconds())

    def run(self) -> None:
        """The thread's loop."""
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # keep driving rollouts whatever one pass hit
                LOG.exception("Rollout runner pass failed")
            self._wake.wait(timeout=self.seconds_to_next())
            self._wake.clear()

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self.run, name="rollout-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after the current pass."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
