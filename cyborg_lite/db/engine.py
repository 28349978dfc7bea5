"""The ``Database``: one SQLAlchemy engine and session factory per process, and transactions.

A use case opens one transaction with ``db.transaction()`` and passes the session to the small
functions of ``db/<noun>.py``; whatever it wrote commits together or not at all.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import event, exc, orm

from cyborg_lite import exception

# How many transactions this thread has open, over every Database: remote calls (Placement,
# Nova, agents) must never be made while one is (they would hold row locks, or SQLite's one
# writer, for a network round-trip), and tests check ``in_transaction()`` where they happen.
_open = threading.local()


def in_transaction() -> bool:
    """True while the calling thread has a database transaction open."""
    return bool(getattr(_open, "depth", 0))


def default_connection(conf: cfg.ConfigOpts) -> str:
    """The [database] connection, or the SQLite file under state_path when unset."""
    if conf.database.connection:
        return str(conf.database.connection)
    os.makedirs(conf.state_path, exist_ok=True)
    return "sqlite:///" + os.path.join(conf.state_path, "cyborg-lite.sqlite")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside one writer, and a
    # busy timeout makes concurrent writers wait instead of failing at once.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> sa.Engine:
    """An engine configured for the backend named by ``url``."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)
    if url.startswith("mysql"):
        kwargs["pool_recycle"] = 3600
        # READ COMMITTED, as on PostgreSQL: a re-read after a conditional update sees other
        # transactions' commits (MySQL's default REPEATABLE READ would hide them).
        kwargs["isolation_level"] = "READ COMMITTED"
    return sa.create_engine(url, **kwargs)


class Database:
    """Holds the engine and session factory; created once per process, handed down.

    ``serialize`` (SQLite only) runs this object's transactions one at a time. SQLite has one
    writer per database; threads of one process that contend for it wait in SQLite's busy
    handler, which sleeps in steps of up to 100 ms, so a conductor with dozens of RPC threads
    writing spent most of a rollout asleep. Queued on a lock in Python they run back to back.
    The conductor's transactions nearly all write, so it serializes; the API's mostly read, and
    WAL lets readers run beside the writer, so it does not.
    """

    def __init__(
        self, url: str, *, pool_size: int = 10, echo: bool = False, serialize: bool = False
    ) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, echo=echo)
        self._sessions = orm.sessionmaker(bind=self.engine, expire_on_commit=False)
        self._serial = threading.Lock() if serialize and self.dialect == "sqlite" else None

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts, *, serialize: bool = False) -> Database:
        """The database named by ``conf``'s [database] group."""
        return cls(
            default_connection(conf),
            pool_size=conf.database.pool_size,
            echo=conf.database.connection_debug,
            serialize=serialize,
        )

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return str(self.engine.dialect.name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[orm.Session]:
        """One transaction: commit when the block ends, roll back if it raises.

        A lost connection to the database becomes ``ServiceUnavailable`` (503), not a 500.
        Where transactions are serialized (the conductor on SQLite), one opened inside another
        of the same thread would wait for the outer one for ever: it raises at once instead.
        """
        depth = getattr(_open, "depth", 0)
        if depth and self._serial is not None:
            raise RuntimeError("A database transaction was opened inside another one.")
        _open.depth = depth + 1
        try:
            with self._serial or contextlib.nullcontext(), self._transaction() as session:
                yield session
        finally:
            _open.depth = depth

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[orm.Session]:
        session = self._sessions()
        try:
            with session.begin():
                yield session
        except exc.OperationalError as err:
            if err.connection_invalidated or _is_disconnect(err):
                raise exception.ServiceUnavailable(
                    "The database is unreachable; try again later."
                ) from err
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close pooled connections (after a fork, or at shutdown)."""
        self.engine.dispose()


def lost_race(err: BaseException) -> bool:
    """True when ``err`` says a transaction lost a race with another writer and may simply be
    tried again: a generation that no longer matched (``ConcurrentUpdate``), an insert that
    another transaction made first (an integrity conflict), a deadlock or a lock timeout."""
    if isinstance(err, exception.ConcurrentUpdate | exc.IntegrityError):
        return True
    if isinstance(err, exc.DBAPIError):
        code = getattr(err.orig, "pgcode", None)
        text = str(err.orig).lower()
        # PostgreSQL deadlock / serialization failure, MySQL 1213 / 1205, SQLite's lock.
        return code in ("40P01", "40001") or any(
            s in text for s in ("deadlock", "lock wait timeout", "database is locked")
        )
    return False


def _is_disconnect(err: exc.OperationalError) -> bool:
    text = str(err.orig).lower()
    return any(
        s in text
        for s in (
            "could not connect",
            "connection refused",
            "server closed",
            "lost connection",
            "can't connect",
            "terminating connection",
            # PostgreSQL refusing new connections while it stops or starts (a restart, a
            # failover): as unreachable as a closed port, and as temporary.
            "the database system is shutting down",
            "the database system is starting up",
            "the database system is in recovery mode",
            "server has gone away",  # MySQL/MariaDB 2006
        )
    )
