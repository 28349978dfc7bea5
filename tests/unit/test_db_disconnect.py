"""Which database errors mean "unreachable" (503) rather than a bug (500)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc

from cyborg_lite.db import engine


def operational(message: str) -> exc.OperationalError:
    return exc.OperationalError("SELECT 1", {}, Exception(message))


@pytest.mark.parametrize(
    "message",
    [
        'connection to server at "127.0.0.1", port 5432 failed: Connection refused',
        "FATAL:  the database system is shutting down",
        "FATAL:  the database system is starting up",
        "FATAL:  the database system is in recovery mode",
        "server closed the connection unexpectedly",
        "FATAL:  terminating connection due to administrator command",
        "(2006, 'MySQL server has gone away')",
        "(2013, 'Lost connection to MySQL server during query')",
    ],
)
def test_unreachable(message):
    assert engine._is_disconnect(operational(message))


@pytest.mark.parametrize(
    "message", ["database is locked", 'relation "devices" does not exist', "disk I/O error"]
)
def test_not_unreachable(message):
    assert not engine._is_disconnect(operational(message))
