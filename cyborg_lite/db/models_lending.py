"""Models of lending idle accelerators (issue 17): pools, their devices and windows, and
loans. Loaded with ``db.models``, which re-exports them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cyborg_lite.db.models import Base, DateTime, TimestampMixin, new_uuid, utcnow


class AcceleratorPool(TimestampMixin, Base):
    """An owner project's pool of devices lent to others while idle (issue 17). The fields
    are ``lending.pools.Pool``'s; JSON columns hold the selector, reserve and borrowers."""

    __tablename__ = "accelerator_pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    # CUSTOM_CYBORG_POOL_<NAME>: unique too, since names differing only in case or
    # punctuation share a trait.
    trait: Mapped[str] = mapped_column(sa.String(255), unique=True)
    owner_project_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    selector: Mapped[str] = mapped_column(sa.Text)
    # A JSON list of project ids; NULL lends to any project.
    borrower_project_ids: Mapped[str | None] = mapped_column(sa.Text)
    reserve: Mapped[str] = mapped_column(sa.Text)
    min_idle_seconds: Mapped[int] = mapped_column(sa.Integer)
    notice_seconds: Mapped[int] = mapped_column(sa.Integer)
    on_reclaim: Mapped[str] = mapped_column(sa.String(16))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    generation: Mapped[int] = mapped_column(sa.Integer, default=0)


class PoolDevice(Base):
    """A device's membership of a pool (at most one: the key is the device) and whether the
    engine offers it now (its deployables then carry the lending traits)."""

    __tablename__ = "pool_devices"

    device_id: Mapped[int] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    pool_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accelerator_pools.id", ondelete="CASCADE"), index=True
    )
    offered: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    offered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # An explicit reclaim keeps the device from being offered again until the end of the
    # window that was open then (lending.offers' "reclaimed").
    withheld_until: Mapped[dt.datetime | None] = mapped_column(DateTime)


class PoolWindow(Base):
    """One lending window of a pool: weekly or one-off, its body as ``lending.windows``
    parses it (JSON)."""

    __tablename__ = "pool_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    pool_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accelerator_pools.id", ondelete="CASCADE"), index=True
    )
    # weekly | once
    kind: Mapped[str] = mapped_column(sa.String(16))
    spec: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class Loan(TimestampMixin, Base):
    """A device lent to a borrower project's ARQ: ``active``, ``reclaiming``, then
    ``closed``. Uuids are kept as text: the account outlives pools, devices and ARQs."""

    __tablename__ = "loans"
    __table_args__ = (sa.Index("ix_loans_state_reclaim_deadline", "state", "reclaim_deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    pool_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    device_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    owner_project_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    borrower_project_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    arq_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    instance_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    state: Mapped[str] = mapped_column(sa.String(16), default="active")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    reclaim_deadline: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # When the on_reclaim action last ran, its attempts and its last error (Nova's answer).
    reclaim_acted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reclaim_attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    reclaim_error: Mapped[str | None] = mapped_column(sa.Text)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    energy_kwh: Mapped[float | None] = mapped_column(sa.Float)
