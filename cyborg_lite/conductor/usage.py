"""The conductor's usage workflows: a host's usage report into SQL, and the housekeeping that
rolls intervals up into hours and prunes what is past keeping (issue 16).

A report (``receive``) is one short transaction of three statements, whatever it holds
(``db.usage``): the host's devices and their usage rows, the intervals' rows in bulk, and
the devices' latest figures in bulk. Idleness advances interval by interval, oldest first, by
``usage.idle.advance``; an interval not newer than a device's stored figures (a resend, or a
backlog that arrives after a newer interval) adds its rollup row if missing and leaves the
figures alone. Summaries of devices SQL does not hold for the host (a report not yet applied)
are counted and skipped.

``Housekeeping.run_once`` is the periodic pass (``conductor.service`` runs it every
``[usage] prune_interval``): each completed hour, once ``[usage] rollup_delay`` has passed,
becomes one hourly row per device; then rows older than ``[usage] retention_hours`` (full
resolution) and ``[usage] history_days`` (hourly) are deleted ``[usage] prune_batch`` at a
time, each batch its own transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import exception
from cyborg_lite.conf import usage as usage_conf
from cyborg_lite.db import usage as db_usage
from cyborg_lite.db.engine import Database, lost_race
from cyborg_lite.usage import idle
from cyborg_lite.usage.report import IntervalReport
from cyborg_lite.usage.summary import DeviceSummary

LOG = logging.getLogger(__name__)

# Attempts at a report's transaction that lost a race (a deadlock between two conductors).
ATTEMPTS = 3
HOUR = dt.timedelta(hours=1)

T = TypeVar("T")


def utcnow() -> dt.datetime:
    """Naive UTC now, as stored."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _naive(at: dt.datetime | None) -> dt.datetime | None:
    """An aware time as the naive UTC the schema stores."""
    if at is None or at.tzinfo is None:
        return at
    return at.astimezone(dt.UTC).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class Received:
    """What a usage report came to; ``answer`` is the RPC reply."""

    accepted: int
    unknown: int
    allocated: list[str]

    def answer(self) -> dict[str, Any]:
        """The wire form of ``usage_report``'s answer (``conductor.rpcapi`` 1.4)."""
        return {"accepted": self.accepted, "unknown": self.unknown, "allocated": self.allocated}


def parse(host: Any, reports: Any) -> tuple[str, list[IntervalReport]]:
    """The host name and its intervals, oldest first; Invalid when malformed."""
    if not isinstance(host, str) or not host:
        raise exception.Invalid(f"Malformed usage report: host must be a name, not {host!r}")
    if not isinstance(reports, list):
        raise exception.Invalid("Malformed usage report: reports must be a list")
    try:
        parsed = [IntervalReport.from_dict(r) for r in reports]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise exception.Invalid(f"Malformed usage report: {type(err).__name__}: {err}") from err
    return host, sorted(parsed, key=lambda r: r.start)


def rollup(device_id: int, interval: IntervalReport, s: DeviceSummary) -> db_usage.Rollup:
    """The ``usage_rollups`` row of one device's summary of one interval."""
    return db_usage.Rollup(
        device_id=device_id,
        resolution_seconds=interval.resolution_seconds,
        start=_naive(interval.start) or interval.start,
        samples=s.samples,
        utilization_percent_mean=s.utilization_percent_mean,
        utilization_percent_max=s.utilization_percent_max,
        memory_used_bytes=s.memory_used_bytes,
        power_watts=s.power_watts,
        temperature_celsius=s.temperature_celsius,
        processes=s.processes,
        busy=s.busy,
    )


def advance(
    device_id: int, before: db_usage.Latest | None, interval: IntervalReport, s: DeviceSummary
) -> db_usage.Latest | None:
    """A device's ``device_usage`` row after one more interval's summary; None when the
    interval is not newer than ``before`` (it changes nothing)."""
    end = _naive(interval.end) or interval.end
    if before is not None and end <= before.sampled_at:
        return None
    start = _naive(interval.start) or interval.start
    was = (
        idle.Idleness(before.last_busy, before.idle_since) if before else idle.Idleness(None, None)
    )
    now = idle.advance(
        was,
        busy=s.busy,
        interval_start=start,
        interval_end=end,
        last_busy_in_interval=_naive(s.last_busy),
    )
    return db_usage.Latest(
        device_id=device_id,
        sampled_at=end,
        utilization_percent=s.utilization_percent_mean,
        memory_used_bytes=s.memory_used_bytes,
        memory_total_bytes=s.memory_total_bytes,
        power_watts=s.power_watts,
        temperature_celsius=s.temperature_celsius,
        processes=s.processes,
        last_busy=now.last_busy,
        idle_since=now.idle_since,
    )


@dataclasses.dataclass(frozen=True)
class Planned:
    """A report's rows, decided from what SQL holds (a pure step, tested without SQL)."""

    rollups: list[db_usage.Rollup]
    latest: list[db_usage.Latest]
    unknown: int


def plan(
    devices: Mapping[str, db_usage.HostDevice], intervals: Sequence[IntervalReport]
) -> Planned:
    """The rows ``intervals`` (oldest first) add to what ``devices`` holds."""
    rollups: list[db_usage.Rollup] = []
    latest: dict[int, db_usage.Latest | None] = {}
    unknown = 0
    for interval in intervals:
        for s in interval.devices:
            known = devices.get(s.stable_id)
            if known is None:
                unknown += 1
                continue
            rollups.append(rollup(known.device_id, interval, s))
            before = latest.get(known.device_id, known.latest)
            after = advance(known.device_id, before, interval, s)
            if after is not None:
                latest[known.device_id] = after
    return Planned(rollups, [row for row in latest.values() if row is not None], unknown)


def _retrying(what: str, attempt: Callable[[], T]) -> T:
    for n in range(1, ATTEMPTS + 1):
        try:
            return attempt()
        except Exception as err:
            if n == ATTEMPTS or not lost_race(err):
                raise
            LOG.info("%s lost a race (%s); attempt %d of %d", what, err, n + 1, ATTEMPTS)
    raise AssertionError("unreachable")


def receive(db: Database, host: Any, reports: Any) -> Received:
    """Store a host's usage intervals (one transaction); Invalid when malformed."""
    hostname, intervals = parse(host, reports)

    def attempt() -> Received:
        with db.transaction() as session:
            devices = db_usage.host_devices(session, hostname)
            planned = plan(devices, intervals)
            db_usage.add_rollups(session, planned.rollups)
            db_usage.save_latest(session, planned.latest)
        return Received(
            len(planned.rollups), planned.unknown, db_usage.allocated_of(devices.values())
        )

    return _retrying(f"Usage report from {hostname}", attempt)


# --- housekeeping ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pass:
    """What one housekeeping pass did."""

    hours_rolled: int
    pruned_intervals: int
    pruned_hours: int


def floor_hour(at: dt.datetime) -> dt.datetime:
    """The start of ``at``'s hour."""
    return at.replace(minute=0, second=0, microsecond=0)


class Housekeeping:
    """Hourly rollups and pruning of usage rows, one pass at a time."""

    # Hours one pass rolls at most (a conductor catching up after days away goes on at the
    # next pass, and full-resolution rows are kept retention_hours anyway).
    MAX_HOURS = 48

    def __init__(
        self,
        db: Database,
        *,
        retention_hours: float,
        history_days: float,
        batch: int,
        rollup_delay: float,
        clock: Callable[[], dt.datetime] = utcnow,
        stop: threading.Event | None = None,
    ) -> None:
        self._db = db
        self._retention = dt.timedelta(hours=retention_hours)
        self._history = dt.timedelta(days=history_days)
        self._batch = batch
        self._delay = dt.timedelta(seconds=rollup_delay)
        self._clock = clock
        self._stop = stop or threading.Event()
        # The next hour to roll up; read from SQL on the first pass.
        self._next_hour: dt.datetime | None = None

    @classmethod
    def from_conf(
        cls,
        conf: cfg.ConfigOpts,
        db: Database,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        stop: threading.Event | None = None,
    ) -> Housekeeping:
        """Housekeeping with ``[usage]``'s settings."""
        u = usage_conf.of(conf)
        return cls(
            db,
            retention_hours=float(u.retention_hours),
            history_days=float(u.history_days),
            batch=int(u.prune_batch),
            rollup_delay=float(u.rollup_delay),
            clock=clock,
            stop=stop,
        )

    def run_once(self) -> Pass:
        """Roll completed hours up, then prune; every statement in a short transaction.
        Full-resolution rows are pruned only once their hour is rolled up."""
        now = self._clock()
        with self._db.transaction() as session:
            resolutions = db_usage.full_resolutions(session)
        rolled = self._roll(now, resolutions)
        keep_from = now - self._retention
        if self._next_hour is not None:
            keep_from = min(keep_from, self._next_hour)
        pruned = sum(self._prune(r, keep_from) for r in resolutions)
        pruned_hours = self._prune(db_usage.HOURLY, now - self._history)
        if rolled or pruned or pruned_hours:
            LOG.info(
                "Usage housekeeping: %d hour(s) rolled up, %d interval row(s) and %d hourly "
                "row(s) pruned",
                rolled,
                pruned,
                pruned_hours,
            )
        return Pass(rolled, pruned, pruned_hours)

    def _first_hour(self, resolutions: Sequence[int]) -> dt.datetime | None:
        """Where rolling up resumes: after the newest hourly row, else at the oldest row."""
        with self._db.transaction() as session:
            newest = db_usage.latest_hour(session)
            if newest is not None:
                return newest + HOUR
            oldest = db_usage.oldest_start(session, resolutions)
        return floor_hour(oldest) if oldest is not None else None

    def _roll(self, now: dt.datetime, resolutions: Sequence[int]) -> int:
        # An hour is rolled once rollup_delay has passed since it ended, so that intervals a
        # backlog brings late still count.
        last_complete = floor_hour(now - self._delay) - HOUR
        if self._next_hour is None:
            self._next_hour = self._first_hour(resolutions)
            if self._next_hour is None:
                return 0  # nothing stored yet: look again next pass
        rolled = 0
        while self._next_hour <= last_complete and rolled < self.MAX_HOURS:
            if self._stop.is_set():
                break
            with self._db.transaction() as session:
                db_usage.roll_hour(session, self._next_hour, resolutions)
            self._next_hour += HOUR
            rolled += 1
        return rolled

    def _prune(self, resolution: int, before: dt.datetime) -> int:
        total = 0
        while not self._stop.is_set():
            with self._db.transaction() as session:
                gone = db_usage.prune(session, resolution, before, self._batch)
            total += gone
            if gone < self._batch:
                break
        return total
