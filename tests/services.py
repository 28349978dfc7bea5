"""Access to the service-backed parts of the test machine: PostgreSQL, MariaDB, RabbitMQ.

Outside CI a missing service skips its tests with a clear reason; with
``CYBORG_LITE_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service fails them.
Each user of a server gets its own uniquely named database (or virtual host) and drops it after.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

REQUIRED = os.environ.get("CYBORG_LITE_REQUIRE_SERVICES") == "1"

POSTGRES_ADMIN_URL = os.environ.get(
    "CYBORG_LITE_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
MYSQL_ADMIN_URL = os.environ.get(
    "CYBORG_LITE_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test"
)
RABBIT_HOST = os.environ.get("CYBORG_LITE_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("CYBORG_LITE_TEST_RABBIT_PORT", "5672"))


def unavailable(what: str, why: object) -> None:
    """Skip (or, in CI, fail) because ``what`` cannot be reached."""
    message = f"{what} is not reachable: {why}"
    if REQUIRED:
        pytest.fail(message + " (CYBORG_LITE_REQUIRE_SERVICES=1 makes it mandatory)")
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


@contextlib.contextmanager
def server_database(backend: str) -> Iterator[str]:
    """A fresh, uniquely named database on PostgreSQL or MariaDB; dropped afterwards."""
    admin_url = POSTGRES_ADMIN_URL if backend == "postgresql" else MYSQL_ADMIN_URL
    name = f"cyl_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as err:  # any failure to reach the server means "not available"
        unavailable(backend, err)
    url = sa.make_url(admin_url).set(database=name)
    if backend == "mysql":
        url = url.set(query={"charset": "utf8mb4"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@contextlib.contextmanager
def rabbit_vhost() -> Iterator[str]:
    """A transport URL on a fresh RabbitMQ virtual host (created with rabbitmqctl); deleted
    afterwards."""
    if not _port_open(RABBIT_HOST, RABBIT_PORT):
        unavailable("RabbitMQ", f"nothing listens on {RABBIT_HOST}:{RABBIT_PORT}")
    vhost = f"cyl_test_{uuid.uuid4().hex[:12]}"
    try:
        subprocess.run(
            ["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True, timeout=60
        )
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as err:
        unavailable("rabbitmqctl (to create a test virtual host)", err)
    try:
        yield f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{vhost}"
    finally:
        subprocess.run(
            ["rabbitmqctl", "-q", "delete_vhost", vhost],
            check=False,
            capture_output=True,
            timeout=60,
        )
