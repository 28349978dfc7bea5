"""The thread that drives rollouts (``conductor.woken``'s loop): woken by events, otherwise
asleep until something is due.

Events (a rollout created or acted on, a job result) advance a rollout at once. Beside them the
runner keeps each rollout's next due time (a bake ending, a window opening, a deadline) and
sweeps every ``[conductor] rollout_sweep_seconds`` to renew leases, check deadlines and
down hosts, and pick up rollouts another conductor left. It never polls the database in a
tight loop: between events and due times it sleeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from oslo_log import log as logging

from cyborg_lite.conductor.rollout import Engine
from cyborg_lite.conductor.rollout_watch import Watchdog
from cyborg_lite.conductor.woken import WokenRunner
from cyborg_lite.db import hosts as db_hosts
from cyborg_lite.db import models
from cyborg_lite.db.engine import Database

LOG = logging.getLogger(__name__)


def down_hosts(db: Database) -> list[str]:
    """Hosts not up (their in-flight jobs cannot finish)."""
    with db.transaction() as session:
        return db_hosts.down(session)


class RolloutRunner(WokenRunner):
    """Advances rollouts on events and when due; one per conductor."""

    thread_name = "rollout-runner"
    noun = "rollout"

    def __init__(
        self,
        engine: Engine,
        watchdog: Watchdog,
        db: Database,
        *,
        sweep_seconds: float,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        super().__init__(sweep_seconds=sweep_seconds, clock=clock)
        self._engine = engine
        self._watchdog = watchdog
        self._db = db

    def _visit(self, uuid: str) -> tuple[bool, dt.datetime | None]:
        return True, self._engine.advance(uuid)

    def sweep(self) -> None:
        """Every unfinished rollout: renew the lease, advance, check deadlines and hosts."""
        down = down_hosts(self._db)
        for uuid in self._engine.unfinished():
            self.visit(uuid)
            try:
                self._watchdog.check(uuid, down)
            except Exception:  # one rollout's trouble must not stop the others
                LOG.exception("Watchdog failed on rollout %s", uuid)
