"""The schema: every revision upgrades from empty, and the models match the migrations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cyborg_lite.db import migration, models
from cyborg_lite.db.engine import Database
from tests.conftest import BACKENDS, _database_url


@pytest.fixture(params=BACKENDS)
def empty_db(request, tmp_path):
    with _database_url(request.param, str(tmp_path)) as url:
        db = Database(url)
        yield db
        db.dispose()


def test_walk_every_revision(empty_db):
    assert migration.current(empty_db.engine) is None
    for rev in migration.revisions():
        migration.upgrade(empty_db.engine, rev)
        assert migration.current(empty_db.engine) == rev
    assert migration.current(empty_db.engine) == migration.head()
    tables = set(sa.inspect(empty_db.engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables


def test_models_match_migrations(empty_db):
    migration.upgrade(empty_db.engine)
    with empty_db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, models.Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(empty_db):
    migration.upgrade(empty_db.engine)
    migration.upgrade(empty_db.engine)
    assert migration.current(empty_db.engine) == migration.head()
