"""Accelerator usage: each device's latest figures and idleness, and per-interval rollups

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# As models.DateTime: microseconds on MySQL too.
DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


def upgrade() -> None:
    op.create_table(
        "device_usage",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("sampled_at", DateTime, nullable=False),
        sa.Column("utilization_percent", sa.Float(), nullable=True),
        sa.Column("memory_used_bytes", sa.BigInteger(), nullable=True),
        sa.Column("memory_total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("power_watts", sa.Float(), nullable=True),
        sa.Column("temperature_celsius", sa.Float(), nullable=True),
        sa.Column("processes", sa.Integer(), nullable=True),
        sa.Column("last_busy", DateTime, nullable=True),
        sa.Column("idle_since", DateTime, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name="fk_device_usage_device_id_devices",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name="pk_device_usage"),
    )
    op.create_index("ix_device_usage_idle_since", "device_usage", ["idle_since"])
    op.create_table(
        "usage_rollups",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("resolution_seconds", sa.Integer(), nullable=False),
        sa.Column("start", DateTime, nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("utilization_percent_mean", sa.Float(), nullable=True),
        sa.Column("utilization_percent_max", sa.Float(), nullable=True),
        sa.Column("memory_used_bytes", sa.BigInteger(), nullable=True),
        sa.Column("power_watts", sa.Float(), nullable=True),
        sa.Column("temperature_celsius", sa.Float(), nullable=True),
        sa.Column("processes", sa.Integer(), nullable=True),
        sa.Column("busy", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name="fk_usage_rollups_device_id_devices",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "device_id", "resolution_seconds", "start", name="pk_usage_rollups"
        ),
    )
    op.create_index(
        "ix_usage_rollups_resolution_start", "usage_rollups", ["resolution_seconds", "start"]
    )


def downgrade() -> None:
    op.drop_index("ix_usage_rollups_resolution_start", table_name="usage_rollups")
    op.drop_table("usage_rollups")
    op.drop_index("ix_device_usage_idle_since", table_name="device_usage")
    op.drop_table("device_usage")
