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


def test_transactions_are_counted_and_serialized_ones_never_nest(tmp_path):
    from cyborg_lite.db import engine as engine_mod

    url = f"sqlite:///{tmp_path / 'nest.sqlite'}"
    serial = engine_mod.Database(url, serialize=True)
    plain = engine_mod.Database(url)
    assert not engine_mod.in_transaction()
    with serial.transaction():
        assert engine_mod.in_transaction()
        # The inner one would wait for the outer's lock for ever: it raises at once.
        with pytest.raises(RuntimeError, match="inside another"), serial.transaction():
            pass
        assert engine_mod.in_transaction()
    assert not engine_mod.in_transaction()
    with plain.transaction(), plain.transaction():
        assert engine_mod.in_transaction()
    assert not engine_mod.in_transaction()
    serial.dispose()
    plain.dispose()
