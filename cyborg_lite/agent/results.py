"""Job results and progress of one agent process, sent to the conductor in batches (RPC 1.6,
issue 18).

Every agent of a process (one host, or a simulated fleet's hundreds) hands its results here;
a thread sends what arrived within ``[agent] result_batch_seconds`` as one ``job_updates``
call (at most ``MAX_BATCH`` per call) and progress as one ``job_progress_many`` cast, so a
burst of results costs one message instead of one per job. A result is acknowledged in its
host's journal only once a conductor answered; on a failure it stays unacknowledged and the
host's retry loop hands it in again (a result already waiting here is not queued twice). A
conductor older than 1.6 answers ``UnsupportedVersion``: the batcher then sends what it holds
one job at a time, as before, and stays in that mode.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import rpc

LOG = logging.getLogger(__name__)

MAX_BATCH = 500


@runtime_checkable
class BatchConductor(Protocol):
    """What the batcher needs of ``conductor.rpcapi.ConductorAPI``."""

    def batch_supported(self) -> bool:
        """Whether 1.6 may be sent (the client's version cap)."""

    def job_updates(self, context: Any, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Many results in one call."""

    def job_progress_many(self, context: Any, updates: list[dict[str, Any]]) -> None:
        """Many progress updates in one cast."""

    def job_update(
        self,
        context: Any,
        job_uuid: str,
        state: str,
        *,
        version: str | None = None,
        error_code: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """One result (1.1)."""

    def job_progress(self, context: Any, job_uuid: str, state: str) -> None:
        """One progress update (1.1)."""


def is_unsupported_version(err: BaseException) -> bool:
    """True for a conductor's refusal of a version it does not know (oslo.messaging's
    ``UnsupportedVersion``, raised here or sent back as a remote error)."""
    names = {type(err).__name__, str(getattr(err, "exc_type", ""))}
    return "UnsupportedVersion" in names


@dataclasses.dataclass
class _Result:
    update: dict[str, Any]
    done: Callable[[bool], None]


class ResultBatcher:
    """Collects results and progress and sends them in batches from one thread."""

    def __init__(self, conductor: BatchConductor, *, window: float) -> None:
        self._conductor = conductor
        self._window = window
        self._cond = threading.Condition()
        self._results: dict[str, _Result] = {}
        self._progress: list[dict[str, Any]] = []
        self._batched = conductor.batch_supported()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def batched(self) -> bool:
        """False once a conductor refused 1.6 (or the client is pinned below it)."""
        return self._batched

    def send_result(self, update: dict[str, Any], done: Callable[[bool], None]) -> None:
        """Queue a result (``job_uuid``, ``state``, ``version``, ``error_code``,
        ``message``); ``done(True)`` once a conductor answered, ``done(False)`` if the send
        failed. A result of a job already queued is not queued again."""
        with self._cond:
            if update["job_uuid"] in self._results:
                return
            self._results[update["job_uuid"]] = _Result(update, done)
            self._cond.notify()

    def send_progress(self, update: dict[str, Any]) -> None:
        """Queue a progress update (``job_uuid``, ``state``); advisory, never repeated."""
        with self._cond:
            self._progress.append(update)
            self._cond.notify()

    def start(self) -> None:
        """Start the sending thread."""
        self._thread = threading.Thread(target=self._loop, name="job-results", daemon=True)
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
                while not (self._results or self._progress or self._stopping):
                    self._cond.wait()
                stopping = self._stopping
            if not stopping:
                # Let the burst gather: results that arrive meanwhile share the message.
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, timeout=self._window)
            with self._cond:
                results = list(self._results.values())[:MAX_BATCH]
                progress, self._progress = self._progress, []
            if progress:
                self._send_progress(progress)
            if results:
                self._send_results(results)
                with self._cond:
                    for item in results:
                        self._results.pop(item.update["job_uuid"], None)
            with self._cond:
                if self._stopping and not self._results and not self._progress:
                    return

    def _send_progress(self, progress: list[dict[str, Any]]) -> None:
        try:
            if self._batched:
                self._conductor.job_progress_many(rpc.admin_context(), progress)
                return
        except Exception as err:  # advisory: a lost progress update changes nothing
            if not is_unsupported_version(err):
                LOG.warning("%d progress update(s) not delivered (%s)", len(progress), err)
                return
            self._downgrade()
        for update in progress:
            try:
                self._conductor.job_progress(
                    rpc.admin_context(), update["job_uuid"], update["state"]
                )
            except Exception as err:
                LOG.warning("Progress of job %s not delivered (%s)", update["job_uuid"], err)
                return

    def _send_results(self, results: list[_Result]) -> None:
        if self._batched:
            try:
                self._conductor.job_updates(rpc.admin_context(), [r.update for r in results])
            except Exception as err:
                if not is_unsupported_version(err):
                    LOG.warning("%d job result(s) not delivered (%s); retried", len(results), err)
                    for item in results:
                        item.done(False)
                    return
                self._downgrade()
            else:
                # Any answer acknowledges, "accepted": False included (a duplicate the
                # conductor already had): what matters is that a conductor has seen it.
                for item in results:
                    item.done(True)
                return
        for item in results:
            u = item.update
            try:
                self._conductor.job_update(
                    rpc.admin_context(),
                    u["job_uuid"],
                    u["state"],
                    version=u.get("version"),
                    error_code=u.get("error_code"),
                    message=u.get("message"),
                )
            except Exception as err:
                LOG.warning("Result of job %s not delivered (%s); retried", u["job_uuid"], err)
                item.done(False)
            else:
                item.done(True)

    def _downgrade(self) -> None:
        if self._batched:
            LOG.warning("The conductor does not take RPC 1.6: job results go one at a time")
        self._batched = False


def results_for(conf: cfg.ConfigOpts, conductor: object) -> ResultBatcher | None:
    """The batcher for ``conductor`` under ``[agent] result_batch_seconds``; None when that
    is 0 or the client cannot batch (a test's fake without 1.6)."""
    window = float(conf.agent.result_batch_seconds)
    if window <= 0 or not isinstance(conductor, BatchConductor):
        return None
    return ResultBatcher(conductor, window=window)
