"""FPGA programming: program rollouts, bitstreams' function and PR ids, ARQs bound by a load

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("firmware_images") as batch:
        # What a bitstream provides (matched by a profile's accel:function_id) and the PR
        # regions it fits (a JSON list; NULL or empty: any region of a compatible card).
        batch.add_column(sa.Column("function_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("pr_interface_ids", sa.Text(), nullable=True))
    with op.batch_alter_table("rollouts") as batch:
        # NULL: an operator's rollout; "program": the one-device load behind a program request.
        batch.add_column(sa.Column("kind", sa.String(16), nullable=True))
    with op.batch_alter_table("accelerator_requests") as batch:
        # The bitstream load a bind waits for (program at bind), and why a bind failed.
        batch.add_column(sa.Column("program_job_uuid", sa.String(36), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.create_index("ix_accelerator_requests_program_job_uuid", ["program_job_uuid"])
