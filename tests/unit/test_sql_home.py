"""Only ``db/`` writes SQL (issue 15, point 2): the conductor decides, and ``db/`` queries.

The conductor may name ``sqlalchemy.orm`` for the ``Session`` type its functions pass down;
statements, functions and errors of SQLAlchemy (``sa.select``, ``sa.func``, ``sqlalchemy.exc``)
are ``db/``'s. Checked on the source with ``ast``, like ``test_layers``, imports inside
functions included. Beside it, ``db/engine.py``'s ``lost_race``, which holds what the conductor
used to know of SQLAlchemy's errors.
"""

from __future__ import annotations

import ast

import pytest
from sqlalchemy import exc

from cyborg_lite import exception
from cyborg_lite.db.engine import lost_race
from tests.unit.test_layers import IMPORTS, PACKAGE, Import, _imports_of, _within

CONDUCTOR = "cyborg_lite.conductor"


def _sqlalchemy_beyond_orm(imports: list[Import], layer: str) -> list[str]:
    return [
        str(i)
        for i in imports
        if _within(i.module, layer)
        and _within(i.target, "sqlalchemy")
        and not _within(i.target, "sqlalchemy.orm")
    ]


def test_the_rule_catches_sqlalchemy_imported_anywhere_in_a_module():
    # Guards the rule below against passing on a scan or a filter that misses these.
    source = (
        "import sqlalchemy as sa\n"
        "from sqlalchemy import exc as sa_exc\n"
        "from sqlalchemy import orm\n"
        "from sqlalchemy.orm import Session\n"
        "def later():\n"
        "    from sqlalchemy import func\n"
    )
    imports = list(_imports_of(f"{CONDUCTOR}.example", source, is_package=False))
    assert _sqlalchemy_beyond_orm(imports, CONDUCTOR) == [
        f"{CONDUCTOR}.example imports sqlalchemy (line 1)",
        f"{CONDUCTOR}.example imports sqlalchemy.exc (line 2)",
        f"{CONDUCTOR}.example imports sqlalchemy.func (line 6)",
    ]


def test_the_scan_sees_the_conductors_session_imports():
    # The conductor names orm.Session today: a scan that saw none would prove nothing.
    assert any(_within(i.module, CONDUCTOR) and i.target == "sqlalchemy.orm" for i in IMPORTS)


def test_the_conductor_imports_no_sqlalchemy_but_orm():
    assert _sqlalchemy_beyond_orm(IMPORTS, CONDUCTOR) == []


# Methods of a Session that run a statement.
_RUNS_SQL = {"execute", "scalar", "scalars", "query"}


def _session_queries(source: str) -> list[int]:
    """Lines calling ``<...session...>.execute`` and its kin."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _RUNS_SQL
        and isinstance(node.func.value, ast.Name)
        and "session" in node.func.value.id
    ]


def test_the_session_scan_finds_a_query():
    assert _session_queries("def f(session):\n    return session.scalars(stmt)\n") == [2]


def test_the_conductor_runs_no_statement_itself():
    found = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in sorted((PACKAGE / "conductor").rglob("*.py"))
        if (lines := _session_queries(path.read_text()))
    }
    assert found == {}


class _Orig(Exception):
    """A DBAPI error as a driver raises it; psycopg's carry a ``pgcode``."""

    def __init__(self, text: str, pgcode: str | None = None) -> None:
        super().__init__(text)
        self.pgcode = pgcode


@pytest.mark.parametrize(
    "err",
    [
        exception.ConcurrentUpdate("generation moved"),
        exc.IntegrityError("INSERT", {}, _Orig("UNIQUE constraint failed: hosts.hostname")),
        exc.OperationalError("UPDATE", {}, _Orig("deadlock detected", pgcode="40P01")),
        exc.OperationalError("UPDATE", {}, _Orig("could not serialize", pgcode="40001")),
        exc.OperationalError("UPDATE", {}, _Orig("(1213, 'Deadlock found')")),
        exc.OperationalError("UPDATE", {}, _Orig("(1205, 'Lock wait timeout exceeded')")),
        exc.OperationalError("UPDATE", {}, _Orig("database is locked")),
    ],
    ids=[
        "generation",
        "insert",
        "pg-deadlock",
        "pg-serialization",
        "mysql-deadlock",
        "mysql-lock-wait",
        "sqlite-locked",
    ],
)
def test_a_lost_race_is_retried(err):
    assert lost_race(err)


@pytest.mark.parametrize(
    "err",
    [
        exc.OperationalError("SELECT", {}, _Orig("no such table: hosts")),
        exc.ProgrammingError("SELECT", {}, _Orig("syntax error", pgcode="42601")),
        exception.Invalid("bad report"),
        ValueError("not a database error"),
    ],
    ids=["missing-table", "syntax", "invalid", "other"],
)
def test_anything_else_is_not(err):
    assert not lost_race(err)
