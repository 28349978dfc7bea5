"""Firmware image catalog.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")


def upgrade() -> None:
    op.create_table(
        "firmware_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("vendor", sa.String(length=4), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("device_ids", sa.Text(), nullable=False),
        sa.Column("models", sa.Text(), nullable=False),
        sa.Column("min_version", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_user", sa.String(length=255), nullable=True),
        sa.Column("created_by_project", sa.String(length=255), nullable=True),
        sa.Column("created_at", DateTime, nullable=False),
        sa.Column("updated_at", DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_images")),
        sa.UniqueConstraint("uuid", name=op.f("uq_firmware_images_uuid")),
    )
    with op.batch_alter_table("firmware_images") as batch_op:
        batch_op.create_index(batch_op.f("ix_firmware_images_vendor"), ["vendor"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_firmware_images_component"), ["component"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_firmware_images_sha256"), ["sha256"], unique=False)
