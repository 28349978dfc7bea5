"""Reader and writer functions for hosts: heartbeats, liveness, and the API's lists.

Several conductors write these rows at once, so every state change is a conditional UPDATE
whose row count says whether this writer made it (and so whether it should notify).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models

FILTERS = ("state",)
STATES = ("up", "down", "maintenance")


class HostReportState(NamedTuple):
    """A host's state and the digest of the last report applied for it (None before one)."""

    state: str
    digest: str | None


class ReportPosition(NamedTuple):
    """Where a host's reports stand: the highest seq seen and the digest last applied."""

    seq: int | None
    digest: str | None


def add(session: orm.Session, hostname: str, now: dt.datetime, agent_version: str | None) -> None:
    """Insert a new host, up; a concurrent insert of the same name raises IntegrityError."""
    session.add(
        models.Host(hostname=hostname, state="up", last_heartbeat=now, agent_version=agent_version)
    )
    session.flush()


def touch(session: orm.Session, hostname: str, now: dt.datetime, agent_version: str | None) -> bool:
    """Record a heartbeat; False when the host is unknown.

    Being an UPDATE, it also locks the host's row until the transaction ends, which is what
    serialises two conductors reconciling the same host.
    """
    result = session.execute(
        sa.update(models.Host)
        .where(models.Host.hostname == hostname)
        # A heartbeat is not a change of the host: updated_at keeps its value.
        .values(last_heartbeat=now, agent_version=agent_version, updated_at=models.Host.updated_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def touch_many(
    session: orm.Session, beats: Mapping[str, str | None], now: dt.datetime
) -> dict[str, HostReportState]:
    """Record the heartbeats ``{hostname: agent_version}`` of many hosts: one UPDATE per agent
    version among them (a fleet runs one), then one SELECT of their states and digests. Hosts
    unknown to SQL are absent from the answer. Rows are updated in hostname order, so two
    conductors touching overlapping hosts lock them in the same order."""
    by_version: dict[str | None, list[str]] = {}
    for hostname, version in sorted(beats.items()):
        by_version.setdefault(version, []).append(hostname)
    for version, hostnames in by_version.items():
        session.execute(
            sa.update(models.Host)
            .where(models.Host.hostname.in_(hostnames))
            .values(last_heartbeat=now, agent_version=version, updated_at=models.Host.updated_at)
            .execution_options(synchronize_session=False)
        )
    rows = session.execute(
        sa.select(models.Host.hostname, models.Host.state, models.Host.report_digest).where(
            models.Host.hostname.in_(sorted(beats))
        )
    )
    return {name: HostReportState(state, digest) for name, state, digest in rows}


def mark_up(session: orm.Session, hostname: str) -> bool:
    """Bring a down host back up; True only for the writer that did it."""
    result = session.execute(
        sa.update(models.Host)
        .where(models.Host.hostname == hostname, models.Host.state == "down")
        .values(state="up", updated_at=models.utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def stale(session: orm.Session, cutoff: dt.datetime) -> list[str]:
    """Hosts that are up but last heard from before ``cutoff``."""
    return list(
        session.scalars(
            sa.select(models.Host.hostname).where(
                models.Host.state == "up", models.Host.last_heartbeat < cutoff
            )
        )
    )


def down(session: orm.Session) -> list[str]:
    """Hostnames of the hosts marked down (their in-flight jobs cannot finish)."""
    return list(session.scalars(sa.select(models.Host.hostname).where(models.Host.state == "down")))


def mark_down(session: orm.Session, hostname: str, cutoff: dt.datetime) -> bool:
    """Mark a silent host down; True only for the writer that did it (others see 0 rows)."""
    result = session.execute(
        sa.update(models.Host)
        .where(
            models.Host.hostname == hostname,
            models.Host.state == "up",
            models.Host.last_heartbeat < cutoff,
        )
        .values(state="down", updated_at=models.utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def state_and_digest(session: orm.Session, hostname: str) -> HostReportState:
    """The host's state and the digest of the last report applied for it."""
    row = session.execute(
        sa.select(models.Host.state, models.Host.report_digest).where(
            models.Host.hostname == hostname
        )
    ).one()
    return HostReportState(row.state, row.report_digest)


def advance_report_seq(session: orm.Session, hostname: str, seq: int) -> bool:
    """Store ``seq`` as the host's newest report if it is above the stored one (or none is
    stored); True when it was. The compare and the set are one statement, and being an UPDATE
    it locks the host's row, as ``touch`` does."""
    result = session.execute(
        sa.update(models.Host)
        .where(
            models.Host.hostname == hostname,
            sa.or_(models.Host.report_seq.is_(None), models.Host.report_seq < seq),
        )
        # Not a change of the host either: updated_at keeps its value.
        .values(report_seq=seq, updated_at=models.Host.updated_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def locked_report_position(session: orm.Session, hostname: str) -> ReportPosition:
    """The host's stored report seq and digest, its row locked until the transaction ends;
    NotFound when there is no such host."""
    row = session.execute(
        sa.select(models.Host.report_seq, models.Host.report_digest)
        .where(models.Host.hostname == hostname)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise exception.NotFound(f"Host not found with hostname={hostname}")
    return ReportPosition(row.report_seq, row.report_digest)


def set_report(
    session: orm.Session,
    hostname: str,
    digest: str,
    driver_errors: list[dict[str, str]],
    seq: int | None = None,
) -> bool:
    """Store the digest, driver errors and (when it has one) seq of the report just applied;
    False, writing nothing, when the host holds a higher seq (a lost race for the caller)."""
    values: dict[str, Any] = {"report_digest": digest, "driver_errors": json.dumps(driver_errors)}
    stmt = sa.update(models.Host).where(models.Host.hostname == hostname)
    if seq is not None:
        values["report_seq"] = seq
        # Never lower it: equal is this report's own compare-and-set.
        stmt = stmt.where(sa.or_(models.Host.report_seq.is_(None), models.Host.report_seq <= seq))
    result = session.execute(stmt.values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def list_hosts(
    session: orm.Session,
    filters: Mapping[str, str],
    *,
    limit: int | None = None,
    marker: str | None = None,
) -> list[models.Host]:
    """Hosts matching ``state`` when given, by name, after the host named ``marker``."""
    stmt = sa.select(models.Host).order_by(models.Host.hostname)
    if "state" in filters:
        stmt = stmt.where(models.Host.state == filters["state"])
    if marker is not None:
        if not exists(session, marker):
            raise exception.Invalid(f"Marker {marker} not found.")
        stmt = stmt.where(models.Host.hostname > marker)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def exists(session: orm.Session, hostname: str) -> bool:
    """True when a host named ``hostname`` exists."""
    return (
        session.scalar(sa.select(models.Host.id).where(models.Host.hostname == hostname))
        is not None
    )


def get_host(session: orm.Session, hostname: str) -> models.Host:
    """The host named ``hostname``, or NotFound."""
    host = session.scalar(sa.select(models.Host).where(models.Host.hostname == hostname))
    if host is None:
        raise exception.NotFound(f"Host not found with hostname={hostname}")
    return host


def states(session: orm.Session, hostnames: Collection[str]) -> dict[str, str]:
    """The state of each named host (one query); hosts without a row are left out."""
    if not hostnames:
        return {}
    rows = session.execute(
        sa.select(models.Host.hostname, models.Host.state).where(
            models.Host.hostname.in_(sorted(set(hostnames)))
        )
    )
    return {row.hostname: row.state for row in rows}


def device_counts(session: orm.Session, hostnames: Collection[str]) -> dict[str, dict[str, Any]]:
    """Per host: devices by type and how many are missing (one grouped query)."""
    out: dict[str, dict[str, Any]] = {h: {"by_type": {}, "missing": 0} for h in hostnames}
    if not hostnames:
        return out
    rows = session.execute(
        sa.select(
            models.Device.hostname,
            models.Device.type,
            models.Device.missing,
            sa.func.count(models.Device.id),
        )
        .where(models.Device.hostname.in_(sorted(set(hostnames))))
        .group_by(models.Device.hostname, models.Device.type, models.Device.missing)
    )
    for hostname, type_, missing, count in rows:
        entry = out[hostname]
        entry["by_type"][type_] = entry["by_type"].get(type_, 0) + count
        if missing:
            entry["missing"] += count
    return out
