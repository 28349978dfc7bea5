"""A conductor thread woken by events, otherwise asleep until something is due or its sweep.

The rollout runner and the lending runner share this loop: ``notify(uuid)`` (from RPC
threads) asks for a visit as soon as possible; each visit says when the item is next due; and
every ``sweep_seconds`` the sweep visits everything, repairing a lost cast or another
conductor's work. Between events and due times the thread sleeps: nothing polls the database
in a tight loop.
"""

from __future__ import annotations

import abc
import datetime as dt
import threading
from collections.abc import Callable

from oslo_log import log as logging

from cyborg_lite.db import models

LOG = logging.getLogger(__name__)


class WokenRunner(abc.ABC):
    """The loop; a subclass says what a visit and a sweep are."""

    #: The thread's name, and what the logs call the items.
    thread_name: str = "runner"
    noun: str = "item"

    def __init__(
        self, *, sweep_seconds: float, clock: Callable[[], dt.datetime] = models.utcnow
    ) -> None:
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._woken: set[str] = set()
        self._due: dict[str, dt.datetime] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sweep: dt.datetime | None = None

    @abc.abstractmethod
    def _visit(self, uuid: str) -> tuple[bool, dt.datetime | None]:
        """Work on ``uuid``: (whether it still exists, when it is next due, if ever). May
        raise: the error is logged and the sweep retries."""

    @abc.abstractmethod
    def sweep(self) -> None:
        """Visit everything (with ``visit``); may raise, logged by the loop."""

    def notify(self, uuid: str) -> None:
        """Visit ``uuid`` as soon as possible."""
        with self._lock:
            self._woken.add(uuid)
        self._wake.set()

    def step(self) -> None:
        """Woken items, then due ones, then the sweep when it is time."""
        now = self._clock()
        with self._lock:
            woken, self._woken = self._woken, set()
            due = {u for u, at in self._due.items() if at <= now}
        for uuid in sorted(woken | due):
            self.visit(uuid)
        if self._next_sweep is None or now >= self._next_sweep:
            # Scheduled before the sweep runs, so a failing sweep waits its period too.
            self._next_sweep = now + dt.timedelta(seconds=self._sweep_seconds)
            self.sweep()

    def visit(self, uuid: str) -> None:
        """``_visit`` with its error logged, and its next due time kept."""
        try:
            found, due = self._visit(uuid)
        except Exception:  # one item's trouble must not stop the others; the sweep retries
            LOG.exception("Work on %s %s failed", self.noun, uuid)
            return
        with self._lock:
            if due is None or not found:
                self._due.pop(uuid, None)
            else:
                self._due[uuid] = due

    def seconds_to_next(self) -> float:
        """How long the thread may sleep: until the sweep or the earliest due item."""
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
            except Exception:  # keep going whatever one pass hit
                LOG.exception("The %s runner's pass failed", self.noun)
            self._wake.wait(timeout=self.seconds_to_next())
            self._wake.clear()

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after the current pass."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
