"""The agent's usage sampler: samples every ``[agent] usage_interval``, one message per host
per ``[agent] usage_report_interval``, and a bounded backlog while the conductor is away.

Each sample asks every driver for a reading of the devices its last discovery found
(``Driver.sample``), merges each device with its MIG slices (``usage.summary.merge``) and keeps
the reading in the current interval. Intervals are aligned on the clock
(``usage.report.interval_of``); the first sample after an interval ended closes it: every
device's ``DeviceSummary`` goes out in one ``usage_report`` call, with any intervals a failed
call left behind. A driver whose sampling raises is logged and its devices skipped for that
sample, as discovery isolates drivers. Drivers bound their own tools (command timeouts), so
sampling runs on the agent's loop thread, which in a fleet of simulated hosts is shared.

``take`` is one sample without the rest (``cyborg-lite-agent sample`` prints it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import oslo_messaging
from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import exception, rpc
from cyborg_lite.agent.discovery import DriverError
from cyborg_lite.conf import usage as usage_conf
from cyborg_lite.drivers import base
from cyborg_lite.usage import summary
from cyborg_lite.usage.report import IntervalReport, interval_of

LOG = logging.getLogger(__name__)

_SAMPLE_FIELDS = tuple(f.name for f in dataclasses.fields(base.Sample))


@runtime_checkable
class UsageConductor(Protocol):
    """What the sampler needs of ``conductor.rpcapi.ConductorAPI`` (1.4)."""

    def usage_supported(self) -> bool:
        """Whether the conductors this client may talk to take usage reports."""

    def usage_report(
        self, context: Any, host: str, reports: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Send a host's interval reports; the answer holds ``allocated``."""


def utcnow() -> dt.datetime:
    """Aware UTC now: sample times travel with their offset."""
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(frozen=True)
class Taken:
    """One sample of a host: each device's samples (the whole device first, then its
    slices, as its driver gave them) and the drivers that failed."""

    at: dt.datetime
    samples: dict[str, list[base.Sample]]
    errors: list[DriverError]

    def readings(self) -> dict[str, summary.Reading]:
        """Each device's samples merged into one reading."""
        return {
            sid: summary.merge([as_mapping(s) for s in got]) for sid, got in self.samples.items()
        }


def as_mapping(sample: base.Sample) -> dict[str, Any]:
    """A sample as the dict ``usage.summary.merge`` reads."""
    return {name: getattr(sample, name) for name in _SAMPLE_FIELDS}


def take(
    drivers: Sequence[base.Driver],
    devices: Mapping[str, Sequence[base.Device]],
    *,
    allocated: frozenset[str] = frozenset(),
    at: dt.datetime | None = None,
) -> Taken:
    """Ask each driver for a reading of its devices (``devices`` by driver name, from the
    last discovery); samples of devices it was not asked about are dropped."""
    at = at or utcnow()
    found: dict[str, list[base.Sample]] = {}
    errors: list[DriverError] = []
    for driver in drivers:
        mine = list(devices.get(driver.name, ()))
        if not mine:
            continue
        try:
            got = driver.sample(mine, allocated=allocated)
        except Exception as err:  # isolation: one driver's failure skips its devices only
            errors.append(DriverError(driver.name, f"{type(err).__name__}: {err}"))
            continue
        asked = {d.stable_id for d in mine}
        for s in got:
            if s.stable_id in asked:
                found.setdefault(s.stable_id, []).append(s)
    return Taken(at, found, errors)


def phase_of(host: str, interval: float) -> float:
    """A fixed share of ``interval`` for ``host``, from a hash of its name (not random: a
    restarted agent keeps its place)."""
    return (zlib.crc32(host.encode()) % 1000) / 1000 * interval


@dataclasses.dataclass
class _Interval:
    start: dt.datetime
    end: dt.datetime
    readings: dict[str, list[tuple[dt.datetime, summary.Reading]]]


class Sampler:
    """Usage sampling and reporting for one host; ``step`` is called from the agent's loop
    (``AgentManager.add_periodic``) and keeps its own pace."""

    def __init__(
        self,
        host: str,
        conductor: UsageConductor,
        drivers: Sequence[base.Driver],
        devices: Callable[[], Mapping[str, Sequence[base.Device]]],
        *,
        interval: float,
        report_interval: int,
        backlog: int,
        idle_percent: float = summary.DEFAULT_IDLE_PERCENT,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], dt.datetime] = utcnow,
        phase: float = 0.0,
    ) -> None:
        self.host = host
        self._conductor = conductor
        self._drivers = list(drivers)
        self._devices = devices
        self._interval = interval
        self._report_interval = report_interval
        self._backlog = backlog
        self._idle_percent = idle_percent
        self._clock = clock
        self._wallclock = wallclock
        # The first sample waits ``phase`` seconds: hosts started together (a fleet, a rack
        # after a power cut) then send their intervals spread over a sampling period.
        self._next = clock() + phase
        self._current: _Interval | None = None
        # Closed intervals not yet acknowledged, oldest first (wire form).
        self.pending: list[dict[str, Any]] = []
        # Stable ids of this host's devices bound to ARQs, as the last answer said.
        self.allocated: frozenset[str] = frozenset()
        self._failing: set[str] = set()

    @classmethod
    def from_conf(
        cls,
        conf: cfg.ConfigOpts,
        conductor: UsageConductor,
        drivers: Sequence[base.Driver],
        devices: Callable[[], Mapping[str, Sequence[base.Device]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> Sampler:
        """A sampler with ``[agent]``'s intervals and ``[usage] idle_percent``."""
        a = conf.agent
        interval = float(a.usage_interval)
        return cls(
            str(conf.host),
            conductor,
            drivers,
            devices,
            interval=interval,
            report_interval=int(a.usage_report_interval),
            backlog=int(a.usage_backlog),
            idle_percent=float(usage_conf.of(conf).idle_percent),
            clock=clock,
            phase=phase_of(str(conf.host), interval),
        )

    def next_due(self) -> float:
        """When the next sample is due (on the monotonic clock)."""
        return self._next

    def step(self) -> str:
        """Sample when due, and send when an interval ended; returns ``idle``, ``sampled``,
        ``reported`` or ``failed`` (the reports stay in the backlog)."""
        now = self._clock()
        if now < self._next:
            return "idle"
        self._next = now + self._interval
        taken = take(self._drivers, self._devices(), allocated=self.allocated, at=self._wallclock())
        self._note_errors(taken.errors)
        start, end = interval_of(taken.at, self._report_interval)
        closed = self._current
        if closed is None or closed.start != start:
            self._current = _Interval(start, end, {})
        assert self._current is not None
        for sid, reading in taken.readings().items():
            self._current.readings.setdefault(sid, []).append((taken.at, reading))
        if closed is None or closed.start == start:
            return "sampled"
        self._close(closed)
        return self.flush()

    def _note_errors(self, errors: Sequence[DriverError]) -> None:
        # Logged when a driver starts failing and when it recovers, not every sample.
        failing = {e.driver for e in errors}
        for err in errors:
            if err.driver not in self._failing:
                LOG.warning(
                    "Driver %s failed to sample on %s: %s", err.driver, self.host, err.error
                )
        for name in self._failing - failing:
            LOG.info("Driver %s samples again on %s", name, self.host)
        self._failing = failing

    def _close(self, interval: _Interval) -> None:
        devices = tuple(
            summary.summarise(sid, readings, self._idle_percent)
            for sid, readings in sorted(interval.readings.items())
        )
        if devices:
            self.pending.append(IntervalReport(interval.start, interval.end, devices).to_dict())

    def flush(self) -> str:
        """Send every pending interval in one message; on failure keep the newest
        ``[agent] usage_backlog`` of them for the next try."""
        if not self.pending:
            return "sampled"
        try:
            answer = self._conductor.usage_report(rpc.admin_context(), self.host, self.pending)
        except (oslo_messaging.RemoteError, exception.Invalid) as err:
            # The conductor read the message and refused it (Invalid where the transport
            # rebuilds the conductor's exception): sending it again cannot help.
            LOG.error(
                "The conductor refused %d usage interval(s) from %s: %s",
                len(self.pending),
                self.host,
                err,
            )
            self.pending = []
            return "failed"
        except Exception as err:  # broker down, conductor busy: keep them for the next one
            self._trim()
            LOG.warning(
                "Could not send usage from %s (%s); %d interval(s) kept for the next try",
                self.host,
                err,
                len(self.pending),
            )
            return "failed"
        self.pending = []
        self.allocated = frozenset(str(s) for s in answer.get("allocated") or ())
        if answer.get("unknown"):
            LOG.debug(
                "The conductor does not know %s device(s) of %s yet", answer["unknown"], self.host
            )
        return "reported"

    def _trim(self) -> None:
        dropped = len(self.pending) - self._backlog
        if dropped > 0:
            LOG.warning(
                "Dropping the %d oldest usage interval(s) of %s (from %s): [agent] usage_backlog "
                "is %d",
                dropped,
                self.host,
                self.pending[0]["interval_start"],
                self._backlog,
            )
            self.pending = self.pending[dropped:]
