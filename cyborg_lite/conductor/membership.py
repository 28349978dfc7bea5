"""This conductor's place among the conductors sharing the fleet (issue 18).

Each conductor registers in SQL (the ``conductors`` table) and beats every
``[conductor] heartbeat_interval``; at each beat it reads the live conductors (a beat within
``dead_after``) and rebuilds the hash ring (``cluster.ring``), so every conductor computes
the same owner for every host without talking to the others. Work that is per host and
periodic, where doing it twice is harmless but wasted (marking silent hosts down, the
periodic Placement repair), is done by each host's owner only; work that a message brings
(a report, a result) is done by whichever conductor the broker handed it to. A conductor
that stops cleanly deletes its row, so its hosts move at the others' next beat; one that dies
is dropped once its beat is older than ``dead_after``. Until its first beat reaches SQL, a
conductor owns every host: the per-host work is conditional, so erring on doing it is safe.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite.cluster.ring import Ring
from cyborg_lite.db import conductors as db_conductors
from cyborg_lite.db import models
from cyborg_lite.db.engine import Database

LOG = logging.getLogger(__name__)

# Rows of conductors silent this many times dead_after are deleted by whoever beats next.
PRUNE_AFTER = 10


class Membership:
    """Registers conductor ``name``, beats, and answers which hosts it owns (thread-safe)."""

    def __init__(
        self,
        db: Database,
        name: str,
        hostname: str,
        *,
        heartbeat_interval: float,
        dead_after: float,
        exponent: int,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self.name = name
        self._db = db
        self._hostname = hostname
        self._interval = heartbeat_interval
        self._dead_after = dead_after
        self._exponent = exponent
        self._clock = clock
        self._lock = threading.Lock()
        self._ring = Ring([name], exponent=exponent)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts, db: Database, name: str) -> Membership:
        """The membership of conductor ``name`` with the ``[conductor]`` options."""
        c = conf.conductor
        return cls(
            db,
            name,
            str(conf.host),
            heartbeat_interval=float(c.heartbeat_interval),
            dead_after=float(c.dead_after),
            exponent=int(c.hash_partition_exponent),
        )

    @property
    def ring(self) -> Ring:
        """The ring as of the last beat."""
        with self._lock:
            return self._ring

    def owns(self, hostname: str) -> bool:
        """True when this conductor owns ``hostname`` (as of the last beat)."""
        return self.ring.owns(self.name, hostname)

    def beat(self) -> Ring:
        """One heartbeat: this conductor's row, the dead pruned, the ring rebuilt from the
        live members (always including this one). Returns the new ring."""
        now = self._clock()
        with self._db.transaction() as session:
            joined = db_conductors.heartbeat(session, self.name, self._hostname, now)
            cutoff = now - dt.timedelta(seconds=self._dead_after)
            db_conductors.prune(session, now - dt.timedelta(seconds=PRUNE_AFTER * self._dead_after))
            members = set(db_conductors.live(session, cutoff)) | {self.name}
        if joined:
            LOG.info("Conductor %s registered", self.name)
        with self._lock:
            before = self._ring.members
            if members != before:
                self._ring = Ring(members, exponent=self._exponent)
            ring = self._ring
        if members != before:
            LOG.info(
                "Conductors sharing the fleet: %s (joined %s, gone %s)",
                ", ".join(sorted(members)),
                ", ".join(sorted(members - before)) or "none",
                ", ".join(sorted(before - members)) or "none",
            )
        return ring

    def start(self) -> None:
        """Beat once now (a database down at start only delays it), then every interval."""
        try:
            self.beat()
        except Exception:  # the loop tries again; until then this conductor owns every host
            LOG.exception("Conductor %s could not register; retrying", self.name)
        self._thread = threading.Thread(target=self._loop, name="conductor-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except Exception:  # a database hiccup must not end the loop
                LOG.exception("Conductor heartbeat failed; trying again in %ss", self._interval)

    def stop(self) -> None:
        """Stop beating and deregister, so the others take this conductor's hosts at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with self._db.transaction() as session:
                db_conductors.remove(session, self.name)
        except Exception:  # the others drop it after dead_after anyway
            LOG.exception("Conductor %s could not deregister", self.name)
