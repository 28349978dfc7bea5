"""Report order: the highest seq of each host's inventory reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for existing hosts: their next report, with or without seq, is applied as before.
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("report_seq", sa.BigInteger(), nullable=True))
