"""Audit: who uploaded an image's bytes, and the project of a rollout's last action

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before this revision keep NULL: who did it then was not recorded.
    with op.batch_alter_table("firmware_images") as batch:
        batch.add_column(sa.Column("uploaded_by_user", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("uploaded_by_project", sa.String(length=255), nullable=True))
    with op.batch_alter_table("rollouts") as batch:
        batch.add_column(sa.Column("last_action_by_project", sa.String(length=255), nullable=True))
