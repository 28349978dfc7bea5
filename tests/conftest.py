"""Shared fixtures: configuration, databases on every backend, the app and its client."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest
import sqlalchemy as sa
from oslo_config import cfg

from cyborg_lite import conf as cl_conf
from cyborg_lite.api.app import create_app
from cyborg_lite.db import migration, models
from cyborg_lite.db.engine import Database
from tests import placement_server, services

BACKENDS = ["sqlite", "postgresql", "mysql"]

# Session fixtures that start a server process. A test that requests one is ``slow`` whatever
# its module is marked, so ``make quick`` (``-m "not slow"``) never starts the server.
PROCESS_FIXTURES = frozenset({"placement_url"})


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m deselection looks at the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that requests a ``PROCESS_FIXTURES`` fixture ``slow``."""
    for item in items:
        if PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def make_test_conf(state_path: str, **overrides: Any) -> cfg.ConfigOpts:
    """A fresh ConfigOpts reading no file, with state under ``state_path``."""
    conf = cl_conf.make_conf([], default_config_files=[])
    conf.set_override("state_path", state_path)
    conf.set_override("host", "test-host")
    for key, value in overrides.items():
        group, _, name = key.rpartition(".")
        conf.set_override(name, value, group=group or None)
    return conf


@pytest.fixture
def conf(tmp_path: Any) -> cfg.ConfigOpts:
    """Configuration for one test, state in its temp dir."""
    return make_test_conf(str(tmp_path / "state"))


@contextlib.contextmanager
def _database_url(backend: str, tmp_dir: str) -> Iterator[str]:
    if backend == "sqlite":
        yield "sqlite:///" + os.path.join(tmp_dir, "test.sqlite")
        return
    with services.server_database(backend) as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_db(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Database]:
    """One migrated database per backend for the whole session (emptied between tests)."""
    with _database_url(request.param, str(tmp_path_factory.mktemp(request.param))) as url:
        db = Database(url)
        migration.upgrade(db.engine)
        yield db
        db.dispose()


def _empty(db: Database) -> None:
    # Children first; one transaction.
    with db.engine.begin() as conn:
        for table in reversed(models.Base.metadata.sorted_tables):
            conn.execute(sa.delete(table))


@pytest.fixture
def db(migrated_db: Database) -> Iterator[Database]:
    """A migrated, empty database on each backend in turn."""
    _empty(migrated_db)
    yield migrated_db
    _empty(migrated_db)


@pytest.fixture
def app(conf: cfg.ConfigOpts, db: Database) -> falcon.App:
    """The real falcon app on the test database."""
    return create_app(conf, db=db)


@pytest.fixture
def client(app: falcon.App) -> falcon.testing.TestClient:
    """A client for the real app."""
    return falcon.testing.TestClient(app)


@pytest.fixture(scope="session")
def placement_url(tmp_path_factory: Any) -> Iterator[str]:
    """A real Placement (SQLite, noauth2) for the whole session; skips (fails in CI) when it
    cannot start."""
    why = placement_server.available()
    if why is not None:
        services.unavailable("Placement", why)
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(
                placement_server.running_placement(tmp_path_factory.mktemp("placement"))
            )
        except Exception as err:  # any failure to start means "not available"
            services.unavailable("Placement", err)
        yield url
