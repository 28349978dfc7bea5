"""The model of the conductors sharing the fleet (issue 18): one row per running conductor,
kept fresh by its heartbeat. Loaded with ``db.models``, which re-exports it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cyborg_lite.db.models import Base, DateTime, utcnow


class Conductor(Base):
    """A conductor process: ``name`` is its unique owner id (``host:pid:random``, the one its
    rollout leases carry), ``hostname`` the machine it runs on. It is live while
    ``heartbeat_at`` is within ``[conductor] dead_after``; a clean stop deletes the row."""

    __tablename__ = "conductors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    hostname: Mapped[str] = mapped_column(sa.String(255))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
