"""The conductor's inventory workflows: reports, heartbeats, host liveness, released devices.

Each workflow is one short transaction (or a few independent ones) and returns the events to
notify; the caller notifies after the commit, so a rolled-back attempt notifies nothing and
two conductors never both notify the same change.

Two conductors may receive the same report (an agent retried, or a report raced a refresh):
the first statement of a report's transaction is the host's heartbeat UPDATE, which locks the
host row; the second conductor waits for it, then finds the digest already stored and writes
nothing more.

Reports are ordered by their ``seq`` (``agent.reportseq``). For a report that has one, the
first statement is instead a compare-and-set of the host's ``report_seq`` (an UPDATE, so it
takes the same lock): a report whose seq is below the stored one, delivered late or redelivered
after a newer one, changes nothing at all, not even the heartbeat, since it says nothing about
the host now. A report without seq (an agent from before 1.2) is applied whenever it arrives,
as before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from oslo_log import log as logging
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.conductor import reconcile
from cyborg_lite.db import hosts as db_hosts
from cyborg_lite.db import inventory as db_inventory
from cyborg_lite.db import models
from cyborg_lite.db.engine import Database, lost_race
from cyborg_lite.inventory import records
from cyborg_lite.inventory.changes import Event

LOG = logging.getLogger(__name__)

# Attempts at a transaction that lost a race (deadlock, concurrent insert, generation).
ATTEMPTS = 4

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a report came to."""

    applied: bool  # False when the digest was already stored (nothing written but liveness)
    events: list[Event]
    # Set when the report was stale: the seq SQL holds, of a newer report (nothing written).
    newer_seq: int | None = None

    @property
    def stale(self) -> bool:
        """True when a newer report of the host was already seen."""
        return self.newer_seq is not None


def _retrying(what: str, attempt: Callable[[], T]) -> T:
    for n in range(1, ATTEMPTS + 1):
        try:
            return attempt()
        except Exception as err:
            if n == ATTEMPTS or not lost_race(err):
                raise
            LOG.info("%s lost a race (%s); attempt %d of %d", what, err, n + 1, ATTEMPTS)
    raise AssertionError("unreachable")


def parse_report(report: Mapping[str, Any]) -> tuple[str, str, dict[str, records.DeviceRec]]:
    """``(hostname, digest, devices by stable id)`` of a report; Invalid when malformed."""
    try:
        hostname = str(report["host"])
        digest = str(report["digest"])
        devices = [records.from_report(hostname, d) for d in report.get("devices") or ()]
    except (KeyError, TypeError, ValueError) as err:
        raise exception.Invalid(f"Malformed inventory report: {type(err).__name__}: {err}") from err
    by_id = {d.stable_id: d for d in devices}
    if len(by_id) != len(devices):
        raise exception.Invalid(f"Report from {hostname} names a device twice.")
    names = [dep.name for d in devices for dep in d.deployables]
    if len(set(names)) != len(names):
        raise exception.Invalid(f"Report from {hostname} names a deployable twice.")
    return hostname, digest, by_id


# ``seq`` is stored in a signed 64-bit column.
MAX_SEQ = 2**63 - 1


def parse_seq(report: Mapping[str, Any]) -> int | None:
    """The report's ``seq``, None when it has none; Invalid when it is not a fitting integer."""
    seq = report.get("seq")
    if seq is None:
        return None
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise exception.Invalid(
            f"Malformed inventory report: seq must be an integer from 0 to {MAX_SEQ}, not {seq!r}"
        )
    return seq


def _driver_errors(report: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"driver": str(e.get("driver")), "error": str(e.get("error"))}
        for e in report.get("driver_errors") or ()
        if isinstance(e, Mapping)
    ]


def _arrive(
    session: orm.Session, hostname: str, now: dt.datetime, version: str | None
) -> tuple[str | None, list[Event]]:
    """Heartbeat (and row lock) for ``hostname``, creating it on first contact; returns the
    digest SQL holds for it and the events."""
    if not db_hosts.touch(session, hostname, now, version):
        db_hosts.add(session, hostname, now, version)
        return None, [("host.up", {"hostname": hostname, "new": True})]
    # Read after the lock: another conductor's commit on this host is visible by now.
    stored = db_hosts.state_and_digest(session, hostname)
    if stored.state == "down" and db_hosts.mark_up(session, hostname):
        return stored.digest, [("host.up", {"hostname": hostname, "new": False})]
    return stored.digest, []


def _newer_seq(session: orm.Session, hostname: str, seq: int, digest: str) -> int | None:
    """The seq SQL holds for ``hostname`` when it makes this report stale, else None (and
    ``seq`` is stored, or will be with the new host's first report); locks the host row."""
    if db_hosts.advance_report_seq(session, hostname, seq):
        return None
    try:
        stored = db_hosts.locked_report_position(session, hostname)
    except exception.NotFound:
        # The host's first report: _arrive inserts it (or finds it inserted meanwhile), and
        # set_report stores seq unless a higher one got there first.
        return None
    if stored.seq is None or stored.seq < seq:
        # Inserted or changed between the two statements: start over, the UPDATE will match.
        raise exception.ConcurrentUpdate(f"Host {hostname} changed while checking report order.")
    if stored.seq == seq and stored.digest == digest:
        return None  # the same report again: it writes only the heartbeat, as it always did
    return stored.seq


def receive_report(db: Database, report: Mapping[str, Any], now: dt.datetime) -> Outcome:
    """Reconcile a full report; an already applied digest writes only the heartbeat, and a
    report older than one already seen (by ``seq``) writes nothing."""
    hostname, digest, devices = parse_report(report)
    seq = parse_seq(report)
    errors = _driver_errors(report)
    failed = {e["driver"] for e in errors}
    version = report.get("agent_version")

    def attempt() -> Outcome:
        with db.transaction() as session:
            if seq is not None:
                newer = _newer_seq(session, hostname, seq, digest)
                if newer is not None:
                    return Outcome(False, [], newer_seq=newer)
            stored, events = _arrive(session, hostname, now, version)
            if stored == digest:
                return Outcome(False, events)
            snapshot = db_inventory.load(session, hostname)
            changes = reconcile.diff(snapshot.known, devices, failed_drivers=failed)
            events += db_inventory.apply(session, snapshot, changes)
            if not db_hosts.set_report(session, hostname, digest, errors, seq):
                # A first report of a new host raced another that inserted it with a higher
                # seq: roll back, and the retry finds this one stale.
                raise exception.ConcurrentUpdate(f"A newer report of {hostname} was applied.")
        return Outcome(True, events)

    return _retrying(f"Report from {hostname}", attempt)


def receive_heartbeat(
    db: Database, hostname: str, version: str | None, digest: str, now: dt.datetime
) -> tuple[bool, list[Event]]:
    """Record a heartbeat; ``(report wanted, events)``.

    A report is wanted when the conductor does not hold the agent's digest: the host is new
    to it, or a report was lost, or the database was restored.
    """

    def attempt() -> tuple[bool, list[Event]]:
        with db.transaction() as session:
            if not db_hosts.touch(session, hostname, now, version):
                return True, []
            stored = db_hosts.state_and_digest(session, hostname)
            events: list[Event] = []
            if stored.state == "down" and db_hosts.mark_up(session, hostname):
                events.append(("host.up", {"hostname": hostname, "new": False}))
            return stored.digest != digest, events

    return _retrying(f"Heartbeat from {hostname}", attempt)


def receive_heartbeats(
    db: Database, beats: Sequence[Mapping[str, Any]], now: dt.datetime
) -> tuple[list[str], list[Event]]:
    """Record a batch of heartbeats (``{"host", "agent_version", "digest"}`` each) in a few
    statements (``db_hosts.touch_many``); ``(hosts whose full report is wanted, events)``.
    As for one heartbeat: a report is wanted when the host is unknown or its digest is not
    the stored one, and a down host comes back up. A malformed beat is skipped, logged."""
    latest: dict[str, tuple[str | None, str]] = {}
    for beat in beats:
        host, digest = beat.get("host"), beat.get("digest")
        if not isinstance(host, str) or not isinstance(digest, str):
            LOG.warning("Malformed heartbeat ignored: %.200r", beat)
            continue
        version = beat.get("agent_version")
        latest[host] = (str(version) if version is not None else None, digest)

    def attempt() -> tuple[list[str], list[Event]]:
        with db.transaction() as session:
            stored = db_hosts.touch_many(
                session, {host: version for host, (version, _) in latest.items()}, now
            )
            events: list[Event] = []
            for host, state in sorted(stored.items()):
                if state.state == "down" and db_hosts.mark_up(session, host):
                    events.append(("host.up", {"hostname": host, "new": False}))
        wanted = sorted(
            host
            for host, (_, digest) in latest.items()
            if host not in stored or stored[host].digest != digest
        )
        return wanted, events

    if not latest:
        return [], []
    return _retrying(f"Heartbeats of {len(latest)} hosts", attempt)


def mark_silent_hosts_down(
    db: Database,
    now: dt.datetime,
    down_after: float,
    *,
    owns: Callable[[str], bool] | None = None,
) -> list[Event]:
    """Mark down every up host silent for ``down_after`` seconds (of those this conductor
    ``owns``, when given: the hash ring's share); its devices stay listed."""
    cutoff = now - dt.timedelta(seconds=down_after)
    with db.transaction() as session:
        candidates = db_hosts.stale(session, cutoff)
    if owns is not None:
        candidates = [hostname for hostname in candidates if owns(hostname)]
    events: list[Event] = []
    for hostname in candidates:
        # One short write transaction each: the conditional update decides who notifies.
        with db.transaction() as session:
            if db_hosts.mark_down(session, hostname, cutoff):
                LOG.warning("Host %s missed heartbeats for %ss: marked down", hostname, down_after)
                events.append(("host.down", {"hostname": hostname}))
    return events


def purge_released(db: Database) -> list[Event]:
    """Delete devices kept only because an ARQ held them, once no ARQ does."""
    with db.transaction() as session:
        candidates = db_inventory.released_missing(session)
    events: list[Event] = []
    for device in candidates:
        with db.transaction() as session:
            if db_inventory.delete_if_released(session, device.id):
                events.append(("device.removed", db_inventory.device_payload(device)))
    return events


def utcnow() -> dt.datetime:
    """Naive UTC now, as stored."""
    return models.utcnow()
