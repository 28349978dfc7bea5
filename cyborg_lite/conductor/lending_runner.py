"""The thread that drives the lending engine (``conductor.woken``'s loop): woken by
``pool_changed``, otherwise asleep until a pool is due (a window opening or closing, a device
idle long enough, a reclaim deadline, a failed Nova action's retry) or the sweep
(``[lending] sweep_seconds``), which passes over every pool."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cyborg_lite.conductor.lending import LendingEngine
from cyborg_lite.conductor.woken import WokenRunner
from cyborg_lite.db import models


class LendingRunner(WokenRunner):
    """Runs passes on events and when due; one per conductor."""

    thread_name = "lending-runner"
    noun = "lending pool"

    def __init__(
        self,
        engine: LendingEngine,
        *,
        sweep_seconds: float,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        super().__init__(sweep_seconds=sweep_seconds, clock=clock)
        self.engine = engine

    def _visit(self, uuid: str) -> tuple[bool, dt.datetime | None]:
        outcome = self.engine.run_pass(uuid)
        return outcome.found, outcome.next_due

    def sweep(self) -> None:
        """A pass over every pool."""
        for uuid in self.engine.pool_uuids():
            self.visit(uuid)
