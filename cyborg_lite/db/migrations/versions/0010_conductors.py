"""Conductors sharing the fleet: one row per running conductor with its heartbeat, and the
conductor that dispatched each firmware job

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# As models.DateTime: microseconds on MySQL too.
DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


def upgrade() -> None:
    op.create_table(
        "conductors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("started_at", DateTime, nullable=False),
        sa.Column("heartbeat_at", DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conductors"),
        sa.UniqueConstraint("name", name="uq_conductors_name"),
    )
    op.create_index("ix_conductors_heartbeat_at", "conductors", ["heartbeat_at"])
    with op.batch_alter_table("rollout_jobs") as batch:
        batch.add_column(sa.Column("dispatched_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollout_jobs") as batch:
        batch.drop_column("dispatched_by")
    op.drop_table("conductors")
