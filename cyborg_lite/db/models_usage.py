"""Models of accelerator usage (issue 16): each device's latest figures and idleness, and its
per-interval and hourly rollups. Loaded with ``db.models``, which re-exports them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cyborg_lite.db.models import Base, DateTime


class DeviceUsage(Base):
    """A device's latest usage figures and its idleness: one row per device, replaced by each
    host summary (issue 16). Any figure its source cannot give is NULL, never 0."""

    __tablename__ = "device_usage"

    device_id: Mapped[int] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    # The end of the interval the figures summarise.
    sampled_at: Mapped[dt.datetime] = mapped_column(DateTime)
    utilization_percent: Mapped[float | None] = mapped_column(sa.Float)
    memory_used_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    memory_total_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    power_watts: Mapped[float | None] = mapped_column(sa.Float)
    temperature_celsius: Mapped[float | None] = mapped_column(sa.Float)
    processes: Mapped[int | None] = mapped_column(sa.Integer)
    # The end of the last interval in which the device was busy.
    last_busy: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Since when it has been idle; NULL while busy or unknown. Indexed for ``idle_for``.
    idle_since: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)


class UsageRollup(Base):
    """One device's usage over one interval: an agent's summary (``resolution_seconds`` = its
    report interval, kept ``[usage] retention_hours``) or an hourly rollup of those (3600, kept
    ``[usage] history_days``). The key makes a summary sent twice (an agent's backlog after a
    lost answer) land once."""

    __tablename__ = "usage_rollups"
    # Pruning deletes by (resolution, start) in small batches.
    __table_args__ = (sa.Index("ix_usage_rollups_resolution_start", "resolution_seconds", "start"),)

    device_id: Mapped[int] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    resolution_seconds: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    start: Mapped[dt.datetime] = mapped_column(DateTime, primary_key=True)
    samples: Mapped[int] = mapped_column(sa.Integer)
    utilization_percent_mean: Mapped[float | None] = mapped_column(sa.Float)
    utilization_percent_max: Mapped[float | None] = mapped_column(sa.Float)
    memory_used_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    power_watts: Mapped[float | None] = mapped_column(sa.Float)
    temperature_celsius: Mapped[float | None] = mapped_column(sa.Float)
    processes: Mapped[int | None] = mapped_column(sa.Integer)
    # Whether the device was busy at any time in the interval; NULL when unknown.
    busy: Mapped[bool | None] = mapped_column(sa.Boolean)
