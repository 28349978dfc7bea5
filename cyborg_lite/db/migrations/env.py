"""Alembic environment: runs migrations on the connection ``db/migration.py`` hands in."""

from __future__ import annotations

from alembic import context

from cyborg_lite.db import models

config = context.config
target_metadata = models.Base.metadata


def run_migrations_online() -> None:
    """Run on the connection in ``config.attributes['connection']`` (always set by us)."""
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
