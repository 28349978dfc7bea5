"""Firmware rollouts and jobs; device firmware drain

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:56:34.739174
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=True),
        sa.Column("image_uuid", sa.String(length=36), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("target_version", sa.String(length=255), nullable=False),
        sa.Column("selector", sa.Text(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("current_wave", sa.Integer(), nullable=False),
        sa.Column("wave_count", sa.Integer(), nullable=False),
        sa.Column(
            "wave_finished_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("forgiven_failures", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("rollback_of", sa.String(length=36), nullable=True),
        sa.Column("created_by_user", sa.String(length=255), nullable=True),
        sa.Column("created_by_project", sa.String(length=255), nullable=True),
        sa.Column("last_action", sa.String(length=16), nullable=True),
        sa.Column("last_action_by_user", sa.String(length=255), nullable=True),
        sa.Column(
            "last_action_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "started_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.Column(
            "finished_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column(
            "lease_expires",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["firmware_images.id"],
            name=op.f("fk_rollouts_image_id_firmware_images"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
        sa.UniqueConstraint("uuid", name=op.f("uq_rollouts_uuid")),
    )
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollouts_image_id"), ["image_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rollouts_state"), ["state"], unique=False)

    op.create_table(
        "rollout_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("device_uuid", sa.String(length=36), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("version_before", sa.String(length=255), nullable=True),
        sa.Column("version_after", sa.String(length=255), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "deadline", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.Column(
            "started_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.Column(
            "finished_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.id"],
            name=op.f("fk_rollout_jobs_rollout_id_rollouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_jobs")),
        sa.UniqueConstraint(
            "rollout_id", "device_uuid", name=op.f("uq_rollout_jobs_rollout_id_device_uuid")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_rollout_jobs_uuid")),
    )
    with op.batch_alter_table("rollout_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rollout_jobs_device_uuid"), ["device_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rollout_jobs_hostname"), ["hostname"], unique=False)
        batch_op.create_index(batch_op.f("ix_rollout_jobs_state"), ["state"], unique=False)

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("firmware_drain", sa.String(length=36), nullable=True))
