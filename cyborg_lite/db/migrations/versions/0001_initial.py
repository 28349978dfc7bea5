"""Initial schema: inventory, device profiles, ARQs

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 15:38:11.731901
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_profiles")),
        sa.UniqueConstraint("name", name=op.f("uq_device_profiles_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_device_profiles_uuid")),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("vendor", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("std_board_info", sa.Text(), nullable=True),
        sa.Column("vendor_board_info", sa.Text(), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("stable_id", sa.String(length=255), nullable=False),
        sa.Column("driver_name", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("missing", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("hostname", "stable_id", name=op.f("uq_devices_hostname_stable_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_devices_uuid")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_hostname"), ["hostname"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_type"), ["type"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_vendor"), ["vendor"], unique=False)

    op.create_table(
        "hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("agent_version", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "last_heartbeat",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("report_digest", sa.String(length=64), nullable=True),
        sa.Column("driver_errors", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
        sa.UniqueConstraint("hostname", name=op.f("uq_hosts_hostname")),
    )
    op.create_table(
        "controlpath_ids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("cpid_type", sa.String(length=16), nullable=False),
        sa.Column("cpid_info", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_controlpath_ids_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_controlpath_ids")),
        sa.UniqueConstraint("uuid", name=op.f("uq_controlpath_ids_uuid")),
    )
    with op.batch_alter_table("controlpath_ids", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_controlpath_ids_device_id"), ["device_id"], unique=False
        )

    op.create_table(
        "deployables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("num_accelerators", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("root_id", sa.Integer(), nullable=True),
        sa.Column("rp_uuid", sa.String(length=36), nullable=True),
        sa.Column("driver_name", sa.String(length=64), nullable=True),
        sa.Column("bitstream_id", sa.String(length=36), nullable=True),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_deployables_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployables")),
        sa.UniqueConstraint("name", name=op.f("uq_deployables_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_deployables_uuid")),
    )
    with op.batch_alter_table("deployables", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployables_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deployables_rp_uuid"), ["rp_uuid"], unique=False)

    op.create_table(
        "attach_handles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("deployable_id", sa.Integer(), nullable=False),
        sa.Column("cpid_id", sa.Integer(), nullable=True),
        sa.Column("attach_type", sa.String(length=16), nullable=False),
        sa.Column("attach_info", sa.Text(), nullable=False),
        sa.Column("in_use", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["cpid_id"],
            ["controlpath_ids.id"],
            name=op.f("fk_attach_handles_cpid_id_controlpath_ids"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deployable_id"],
            ["deployables.id"],
            name=op.f("fk_attach_handles_deployable_id_deployables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attach_handles")),
        sa.UniqueConstraint("uuid", name=op.f("uq_attach_handles_uuid")),
    )
    with op.batch_alter_table("attach_handles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attach_handles_cpid_id"), ["cpid_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_attach_handles_deployable_id"), ["deployable_id"], unique=False
        )

    op.create_table(
        "attributes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("deployable_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["deployable_id"],
            ["deployables.id"],
            name=op.f("fk_attributes_deployable_id_deployables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attributes")),
        sa.UniqueConstraint("deployable_id", "key", name=op.f("uq_attributes_deployable_id_key")),
        sa.UniqueConstraint("uuid", name=op.f("uq_attributes_uuid")),
    )
    with op.batch_alter_table("attributes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attributes_deployable_id"), ["deployable_id"], unique=False
        )

    op.create_table(
        "accelerator_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("device_profile_id", sa.Integer(), nullable=False),
        sa.Column("device_profile_group_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=True),
        sa.Column("device_rp_uuid", sa.String(length=36), nullable=True),
        sa.Column("instance_uuid", sa.String(length=36), nullable=True),
        sa.Column("attach_handle_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["attach_handle_id"],
            ["attach_handles.id"],
            name=op.f("fk_accelerator_requests_attach_handle_id_attach_handles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_profile_id"],
            ["device_profiles.id"],
            name=op.f("fk_accelerator_requests_device_profile_id_device_profiles"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accelerator_requests")),
        sa.UniqueConstraint("uuid", name=op.f("uq_accelerator_requests_uuid")),
    )
    with op.batch_alter_table("accelerator_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accelerator_requests_attach_handle_id"),
            ["attach_handle_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_accelerator_requests_device_profile_id"),
            ["device_profile_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_accelerator_requests_instance_uuid"), ["instance_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_accelerator_requests_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_accelerator_requests_state"), ["state"], unique=False)
