"""Heartbeats of one agent process, sent to the conductor in batches (RPC 1.7, issue 18).

Every agent of a process (one host, or a simulated fleet's thousands) hands its heartbeat
here; a thread sends what arrived within ``[agent] result_batch_seconds`` as one
``heartbeats`` cast. A conductor that wants a host's full report asks for it with a cast back
(the agent API's ``refresh``). The first batch, and the first after a failure, is a call, so
that a conductor older than 1.7 is found out (``UnsupportedVersion``, which a cast would
hide): from then on each host sends 1.0's ``heartbeat`` itself again. A lost batch costs
nothing but that interval's heartbeats: the hosts beat again at their next interval.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import rpc
from cyborg_lite.agent.results import is_unsupported_version

LOG = logging.getLogger(__name__)


@runtime_checkable
class HeartbeatConductor(Protocol):
    """What the batcher needs of ``conductor.rpcapi.ConductorAPI``."""

    def heartbeats_supported(self) -> bool:
        """Whether 1.7 may be sent (the client's version cap)."""

    def heartbeats(
        self, context: Any, beats: list[dict[str, Any]], *, wait: bool = False
    ) -> dict[str, Any] | None:
        """Many heartbeats: a cast, or a call with ``wait``."""


class HeartbeatBatcher:
    """Collects heartbeats and sends them in batches from one thread."""

    def __init__(self, conductor: HeartbeatConductor, *, window: float) -> None:
        self._conductor = conductor
        self._window = window
        self._cond = threading.Condition()
        self._beats: dict[str, dict[str, Any]] = {}
        self._batched = conductor.heartbeats_supported()
        self._confirmed = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def batched(self) -> bool:
        """False once a conductor refused 1.7 (or the client is pinned below it)."""
        return self._batched

    def beat(self, host: str, agent_version: str, digest: str) -> None:
        """Queue ``host``'s heartbeat (a newer one replaces one still waiting)."""
        with self._cond:
            self._beats[host] = {"host": host, "agent_version": agent_version, "digest": digest}
            self._cond.notify()

    def start(self) -> None:
        """Start the sending thread."""
        self._thread = threading.Thread(target=self._loop, name="heartbeats", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Send what is queued, then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._beats or self._stopping):
                    self._cond.wait()
                if not self._stopping:
                    self._cond.wait_for(lambda: self._stopping, timeout=self._window)
                beats, self._beats = list(self._beats.values()), {}
                stopping = self._stopping
            if beats and self._batched:
                self._send(beats)
            if stopping:
                return

    def _send(self, beats: list[dict[str, Any]]) -> None:
        try:
            self._conductor.heartbeats(rpc.admin_context(), beats, wait=not self._confirmed)
        except Exception as err:
            if is_unsupported_version(err):
                LOG.warning("The conductor does not take RPC 1.7: each host sends its heartbeat")
                self._batched = False
            else:
                LOG.warning("%d heartbeat(s) not delivered (%s)", len(beats), err)
                self._confirmed = False
            return
        self._confirmed = True


def heartbeats_for(conf: cfg.ConfigOpts, conductor: object) -> HeartbeatBatcher | None:
    """The batcher for ``conductor`` under ``[agent] result_batch_seconds``; None when that
    is 0 or the client cannot batch (a test's fake without 1.7)."""
    window = float(conf.agent.result_batch_seconds)
    if window <= 0 or not isinstance(conductor, HeartbeatConductor):
        return None
    return HeartbeatBatcher(conductor, window=window)
