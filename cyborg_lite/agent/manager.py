"""The agent: discovers on a timer and on request, reports changes, heartbeats otherwise.

``AgentManager.tick()`` is one step of the loop (discover when due, then a full report when
the inventory digest changed or a refresh was asked for, else a heartbeat when due); tests call
it directly with a fake clock and a fake conductor. Each report carries a ``seq`` from
``agent.reportseq`` so that conductors ignore one delivered after a newer one.
``AgentEndpoint`` is what the bus sees: ``refresh``, and the firmware jobs' ``flash_firmware``
and ``job_status`` (run by ``agent.jobs``). Usage sampling (``agent.usage``) is one of the
loop's periodic tasks, over the devices the last discovery found. ``agent.service`` puts them
together with the RPC server and threads.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import oslo_messaging
from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import __version__, rpc
from cyborg_lite.agent import discovery, job_ports, jobs, reportseq
from cyborg_lite.agent.heartbeats import HeartbeatBatcher
from cyborg_lite.drivers import base

if TYPE_CHECKING:
    pass

LOG = logging.getLogger(__name__)
# Threads an agent's RPC server serves with (see AgentService.start).
RPC_THREADS = 2


class Conductor(Protocol):
    """What the agent's loop needs of ``conductor.rpcapi.ConductorAPI``."""

    def report_inventory(self, context: Any, report: dict[str, Any]) -> dict[str, Any]:
        """Send a full report."""

    def heartbeat(self, context: Any, host: str, agent_version: str, digest: str) -> dict[str, Any]:
        """Send a heartbeat."""


class AgentConductor(Conductor, job_ports.JobConductor, Protocol):
    """What a whole agent needs of the conductor: reports, heartbeats and job updates."""


def digest(devices: Iterable[dict[str, Any]], failed_drivers: Iterable[str]) -> str:
    """sha256 of the inventory: the devices (in a fixed order) and which drivers failed.

    Error texts are left out on purpose: a driver that keeps timing out with a different
    message each time has not changed the inventory.
    """
    canonical = {
        "devices": sorted(devices, key=lambda d: (str(d.get("driver")), str(d["stable_id"]))),
        "failed_drivers": sorted(set(failed_drivers)),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(text.encode()).hexdigest()


def build_report(
    host: str,
    devices: Sequence[base.Device],
    errors: Sequence[discovery.DriverError],
    *,
    seq: int | None = None,
) -> dict[str, Any]:
    """The report payload for the conductor (plain JSON-able dict); ``seq`` orders it among
    the host's reports, and a report without one is applied whenever it arrives."""
    # A JSON round trip turns the dataclasses' tuples into lists: the wire form, digested as
    # the conductor will see it.
    device_dicts = json.loads(json.dumps([base.to_dict(d) for d in devices]))
    driver_errors = [{"driver": e.driver, "error": e.error} for e in errors]
    report: dict[str, Any] = {
        "host": host,
        "agent_version": __version__,
        "digest": digest(device_dicts, (e.driver for e in errors)),
        "devices": device_dicts,
        "driver_errors": driver_errors,
    }
    if seq is not None:
        report["seq"] = seq
    return report


class AgentManager:
    """Discovery, reports and heartbeats for one host identity."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        conductor: Conductor,
        drivers: Sequence[base.Driver],
        load_errors: Sequence[discovery.DriverError] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        wake: threading.Event | None = None,
        sequence: reportseq.ReportSequence | None = None,
        heartbeats: HeartbeatBatcher | None = None,
    ) -> None:
        self.host = str(conf.host)
        # The process's heartbeat batcher (RPC 1.7); None, or a conductor before 1.7: this
        # host calls heartbeat itself and reads the answer.
        self._heartbeats = heartbeats
        self._conf = conf
        self._conductor = conductor
        self.drivers = list(drivers)
        self._load_errors = list(load_errors)
        self._clock = clock
        self.sequence = sequence or reportseq.ReportSequence(
            reportseq.sequence_path(conf.state_path, self.host)
        )
        # When a requested full report is due (monotonic clock); None: none requested.
        self._refresh_due: float | None = None
        self._refresh_lock = threading.Lock()
        # A fleet of simulated hosts shares one wake event: one loop thread steps them all.
        self._wake = wake or threading.Event()
        self._stop = threading.Event()
        # The digest the conductor acknowledged; None means "send a full report".
        self.acked_digest: str | None = None
        self.last_report: dict[str, Any] | None = None
        self._next_discovery = 0.0
        self._next_heartbeat = 0.0
        self._pause_until = 0.0
        self._periodic: list[Callable[[], object]] = []
        self._periodic_due: list[Callable[[], float]] = []
        # Each driver's devices as its last successful discovery found them.
        self.devices_by_driver: dict[str, list[base.Device]] = {}

    def add_periodic(
        self, task: Callable[[], object], due: Callable[[], float] | None = None
    ) -> None:
        """Run ``task`` after every step of the loop (it keeps its own pace); ``due``, when
        given, says when it next wants to run (on this manager's clock), so the loop wakes
        for it."""
        self._periodic.append(task)
        if due is not None:
            self._periodic_due.append(due)

    def discover(self) -> dict[str, Any]:
        """Run every driver (isolated, bounded) and build the report."""
        found = discovery.run(self.drivers, float(self._conf.agent.discovery_timeout))
        # A driver that failed this time keeps being sampled over what it found before.
        self.devices_by_driver.update(found.by_driver)
        report = build_report(
            self.host, found.devices, [*self._load_errors, *found.errors], seq=self._next_seq()
        )
        self.last_report = report
        return report

    def _next_seq(self) -> int | None:
        try:
            return self.sequence.next()
        except OSError as err:
            # Reporting unordered, as agents before seq did, beats not reporting at all.
            LOG.error(
                "Cannot save the report generation in %s (%s); reporting from %s without seq, "
                "so a late report may be applied until a newer one arrives",
                self.sequence.path,
                err,
                self.host,
            )
            return None

    def request_refresh(self, delay: float = 0.0) -> None:
        """Discover and report in full ``delay`` seconds from now (at once by default); a
        refresh already due sooner stays as it is, so requests in a burst make one report."""
        due = self._clock() + delay
        with self._refresh_lock:
            if self._refresh_due is None or due < self._refresh_due:
                self._refresh_due = due
        self._wake.set()

    def _take_refresh(self, now: float) -> bool:
        with self._refresh_lock:
            if self._refresh_due is None or now < self._refresh_due:
                return False
            self._refresh_due = None
            return True

    def tick(self) -> str:
        """One step; returns what it did: ``report``, ``heartbeat``, ``idle``, ``failed`` or
        ``stale`` (the conductor holds a newer report than the one sent)."""
        now = self._clock()
        if now < self._pause_until:
            return "idle"
        want_full = self._take_refresh(now) or self.acked_digest is None
        if want_full or now >= self._next_discovery:
            report = self.discover()
            self._next_discovery = now + float(self._conf.agent.report_interval)
            if want_full or report["digest"] != self.acked_digest:
                return self._send_report(report, now)
        if now >= self._next_heartbeat:
            return self._send_heartbeat(now)
        return "idle"

    def _send_report(self, report: dict[str, Any], now: float) -> str:
        try:
            answer = self._conductor.report_inventory(rpc.admin_context(), report)
        except Exception as err:  # broker down, conductor busy: try again later, in full
            self.acked_digest = None
            self._backoff(now, "report", err)
            return "failed"
        if answer.get("stale"):
            return self._outrun(report, answer.get("seq"), now)
        LOG.info("Reported %d device(s) from %s", len(report["devices"]), self.host)
        self.acked_digest = report["digest"]
        self._next_heartbeat = now + float(self._conf.agent.heartbeat_interval)
        return "report"

    def _outrun(self, report: dict[str, Any], held: Any, now: float) -> str:
        """The conductor holds a report with a seq at least this one's: this agent's generation
        file was lost, or another agent reports under this host name. Reports are sequential,
        so it cannot be an earlier report of this process."""
        LOG.warning(
            "The conductor holds a newer report from %s (seq %s) than the one just sent (seq "
            "%s): is the state folder new, or does another agent use this host name? Reporting "
            "again with a later generation in %ss",
            self.host,
            held,
            report.get("seq"),
            self._conf.agent.heartbeat_interval,
        )
        if isinstance(held, int) and not isinstance(held, bool):
            try:
                self.sequence.skip_past(held)
            except OSError as err:
                LOG.error("Cannot save the report generation in %s: %s", self.sequence.path, err)
        self.acked_digest = None
        # Not at once: two agents under one name would otherwise outbid each other in a loop.
        self._pause_until = now + float(self._conf.agent.heartbeat_interval)
        return "stale"

    def _send_heartbeat(self, now: float) -> str:
        assert self.acked_digest is not None
        if self._heartbeats is not None and self._heartbeats.batched:
            # A wanted report comes back as a refresh cast.
            self._heartbeats.beat(self.host, __version__, self.acked_digest)
            self._next_heartbeat = now + float(self._conf.agent.heartbeat_interval)
            return "heartbeat"
        try:
            answer = self._conductor.heartbeat(
                rpc.admin_context(), self.host, __version__, self.acked_digest
            )
        except Exception as err:  # a lost heartbeat is retried; the inventory is unchanged
            self._backoff(now, "heartbeat", err)
            return "failed"
        if answer.get("report_wanted"):
            LOG.info("The conductor asks %s for a full report", self.host)
            self.acked_digest = None
        self._next_heartbeat = now + float(self._conf.agent.heartbeat_interval)
        return "heartbeat"

    def _backoff(self, now: float, what: str, err: Exception) -> None:
        delay = float(self._conf.agent.heartbeat_interval)
        LOG.warning("Could not send %s from %s (%s); retrying in %ss", what, self.host, err, delay)
        self._pause_until = now + delay

    def seconds_to_next(self) -> float:
        """How long the loop may sleep before something is due."""
        due = min(self._next_discovery, self._next_heartbeat)
        refresh = self._refresh_due
        if refresh is not None:
            due = min(due, refresh)
        due = max(due, self._pause_until)
        if self.acked_digest is None:
            due = self._pause_until
        for periodic in self._periodic_due:
            due = min(due, periodic())
        return max(0.0, due - self._clock())

    def step(self) -> None:
        """``tick`` and the periodic tasks, each isolated from the others' failures."""
        for step in (self.tick, *self._periodic):
            try:
                step()
            except Exception:  # a bug in one step must not end the agent
                LOG.exception("Agent step failed on %s", self.host)

    def run(self) -> None:
        """The loop: step, then sleep until something is due, a refresh or stop wakes it."""
        while not self._stop.is_set():
            self.step()
            self._wake.wait(timeout=max(0.05, self.seconds_to_next()))
            self._wake.clear()

    def stop(self) -> None:
        """End the loop after the current step."""
        self._stop.set()
        self._wake.set()


class AgentEndpoint:
    """RPC endpoints of topic ``cyborg-lite-agent`` (see ``agent.rpcapi`` for the history)."""

    target = oslo_messaging.Target(version="1.1")

    def __init__(self, manager: AgentManager, runner: jobs.JobRunner) -> None:
        self._manager = manager
        self._runner = runner

    def refresh(self, context: Any) -> None:
        """Discover now and report in full (1.0)."""
        LOG.info("Refresh requested on %s", self._manager.host)
        self._manager.request_refresh()

    def flash_firmware(self, context: Any, job: dict[str, Any]) -> None:
        """Run a firmware job (1.1); a job uuid already known is ignored."""
        self._runner.submit(job)

    def job_status(self, context: Any, job_uuid: str) -> dict[str, Any] | None:
        """What this agent knows of a job (1.1); None when it never heard of it."""
        return self._runner.status(job_uuid)
