"""Lending idle accelerators: pools, their devices and windows, and loans

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# As models.DateTime: microseconds on MySQL too.
DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", DateTime, nullable=False),
        sa.Column("updated_at", DateTime, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "accelerator_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("trait", sa.String(255), nullable=False),
        sa.Column("owner_project_id", sa.String(255), nullable=False),
        sa.Column("selector", sa.Text(), nullable=False),
        sa.Column("borrower_project_ids", sa.Text(), nullable=True),
        sa.Column("reserve", sa.Text(), nullable=False),
        sa.Column("min_idle_seconds", sa.Integer(), nullable=False),
        sa.Column("notice_seconds", sa.Integer(), nullable=False),
        sa.Column("on_reclaim", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_accelerator_pools"),
        sa.UniqueConstraint("uuid", name="uq_accelerator_pools_uuid"),
        sa.UniqueConstraint("name", name="uq_accelerator_pools_name"),
        sa.UniqueConstraint("trait", name="uq_accelerator_pools_trait"),
    )
    op.create_index(
        "ix_accelerator_pools_owner_project_id", "accelerator_pools", ["owner_project_id"]
    )
    op.create_table(
        "pool_devices",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("offered", sa.Boolean(), nullable=False),
        sa.Column("offered_at", DateTime, nullable=True),
        sa.Column("withheld_until", DateTime, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name="fk_pool_devices_device_id_devices",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["accelerator_pools.id"],
            name="fk_pool_devices_pool_id_accelerator_pools",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name="pk_pool_devices"),
    )
    op.create_index("ix_pool_devices_pool_id", "pool_devices", ["pool_id"])
    op.create_table(
        "pool_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_at", DateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["accelerator_pools.id"],
            name="fk_pool_windows_pool_id_accelerator_pools",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pool_windows"),
        sa.UniqueConstraint("uuid", name="uq_pool_windows_uuid"),
    )
    op.create_index("ix_pool_windows_pool_id", "pool_windows", ["pool_id"])
    op.create_table(
        "loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("pool_uuid", sa.String(36), nullable=False),
        sa.Column("device_uuid", sa.String(36), nullable=False),
        sa.Column("owner_project_id", sa.String(255), nullable=False),
        sa.Column("borrower_project_id", sa.String(255), nullable=False),
        sa.Column("arq_uuid", sa.String(36), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", DateTime, nullable=False),
        sa.Column("reclaim_deadline", DateTime, nullable=True),
        sa.Column("reclaim_acted_at", DateTime, nullable=True),
        sa.Column("reclaim_attempts", sa.Integer(), nullable=False),
        sa.Column("reclaim_error", sa.Text(), nullable=True),
        sa.Column("ended_at", DateTime, nullable=True),
        sa.Column("energy_kwh", sa.Float(), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_loans"),
        sa.UniqueConstraint("uuid", name="uq_loans_uuid"),
    )
    for column in (
        "pool_uuid",
        "device_uuid",
        "owner_project_id",
        "borrower_project_id",
        "arq_uuid",
        "started_at",
    ):
        op.create_index(f"ix_loans_{column}", "loans", [column])
    op.create_index("ix_loans_state_reclaim_deadline", "loans", ["state", "reclaim_deadline"])


def downgrade() -> None:
    op.drop_table("loans")
    op.drop_table("pool_windows")
    op.drop_table("pool_devices")
    op.drop_table("accelerator_pools")
