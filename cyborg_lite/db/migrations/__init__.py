"""Alembic migrations: the schema's history, from the first table."""
