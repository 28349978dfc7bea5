"""Many agents in one process (``cyborg-lite-agent --simulated-hosts N``): a few loop threads
step them all and their jobs share one pool, so a process with a thousand hosts holds tens of
threads, not thousands. Each agent (``service.AgentService``) keeps its own identity, RPC
server, journal and limits.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import TYPE_CHECKING

from oslo_config import cfg

from cyborg_lite.agent.heartbeats import HeartbeatBatcher, heartbeats_for
from cyborg_lite.agent.results import ResultBatcher, results_for

if TYPE_CHECKING:
    from cyborg_lite.agent.service import AgentService


class _Loop:
    """One of a fleet's loop threads and the agents it steps."""

    def __init__(self, name: str) -> None:
        self.wake = threading.Event()
        self.agents: list[AgentService] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        """Step every agent, then sleep until the soonest is due or one is woken."""
        while not self.stopping.is_set():
            for agent in self.agents:
                if self.stopping.is_set():
                    return
                agent.manager.step()
            soonest = min((a.manager.seconds_to_next() for a in self.agents), default=60.0)
            self.wake.wait(timeout=max(0.05, soonest))
            self.wake.clear()


class Fleet:
    """Many agents in one process (simulated hosts): a few loop threads step them all and
    their jobs share one pool, so a process with a thousand hosts holds tens of threads, not
    thousands. Each agent keeps its own identity, RPC server, journal and limits.

    Agents are spread over ``loops`` threads so that one agent's slow call (a conductor that
    does not answer until the RPC timeout) holds up only its share of the fleet.
    """

    def __init__(self, pool_size: int, loops: int = 8) -> None:
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=pool_size, thread_name_prefix="fleet-jobs"
        )
        self._loops = [_Loop(f"fleet-loop-{n}") for n in range(max(1, loops))]
        self._placed = 0
        self._results: ResultBatcher | None = None
        self._results_made = False
        self._beats: HeartbeatBatcher | None = None
        self._beats_made = False

    def heartbeats(self, conf: cfg.ConfigOpts, conductor: object) -> HeartbeatBatcher | None:
        """The fleet's one heartbeat batcher: every host's heartbeat leaves in one cast."""
        if not self._beats_made:
            self._beats = heartbeats_for(conf, conductor)
            self._beats_made = True
        return self._beats

    def results(self, conf: cfg.ConfigOpts, conductor: object) -> ResultBatcher | None:
        """The fleet's one result batcher (made for the first agent's conductor client; all
        share the transport): the whole process's results leave in batches."""
        if not self._results_made:
            self._results = results_for(conf, conductor)
            self._results_made = True
        return self._results

    def place(self) -> _Loop:
        """The loop the next agent joins (round robin)."""
        loop = self._loops[self._placed % len(self._loops)]
        self._placed += 1
        return loop

    @property
    def agents(self) -> list[AgentService]:
        """Every agent of the fleet."""
        return [a for loop in self._loops for a in loop.agents]

    def start(self) -> None:
        """Start the result batcher, every agent, then the loops."""
        for batcher in (self._results, self._beats):
            if batcher is not None:
                batcher.start()
        for agent in self.agents:
            agent.start()
        for loop in self._loops:
            loop.thread.start()

    def stop(self) -> None:
        """Stop the loops, then every agent, then the pool."""
        for loop in self._loops:
            loop.stopping.set()
            loop.wake.set()
        for loop in self._loops:
            if loop.thread.is_alive():
                loop.thread.join(timeout=10)
        # Every server asked first, then waited for: each takes up to a poll interval to
        # notice, and one after the other that was minutes for a large fleet.
        for agent in self.agents:
            agent.begin_stop()
        for agent in reversed(self.agents):
            agent.finish_stop()
        for batcher in (self._results, self._beats):
            if batcher is not None:
                batcher.stop()
        self.executor.shutdown(wait=False)
