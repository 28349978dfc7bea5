"""``cyborg-lite-manage``: operator chores (``db upgrade``, ``db version``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from cyborg_lite import conf as cl_conf
from cyborg_lite.db import migration
from cyborg_lite.db.engine import Database


def _db_upgrade(conf: cfg.ConfigOpts) -> int:
    db = Database.from_conf(conf)
    migration.upgrade(db.engine, conf.command.revision)
    print(f"Database at revision {migration.current(db.engine)}")
    return 0


def _db_version(conf: cfg.ConfigOpts) -> int:
    db = Database.from_conf(conf)
    print(migration.current(db.engine) or "None (empty database)")
    return 0


def _add_parsers(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="Database schema management.")
    db_sub = db.add_subparsers(dest="db_action")
    db_sub.required = True
    up = db_sub.add_parser("upgrade", help="Upgrade the schema (default: to the newest).")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_db_upgrade)
    ver = db_sub.add_parser("version", help="Print the schema revision.")
    ver.set_defaults(func=_db_version)


def main(argv: Sequence[str] | None = None) -> None:
    """Run one chore and exit with its status."""
    command = cfg.SubCommandOpt("command", title="Commands", handler=_add_parsers)
    conf = cl_conf.make_conf(sys.argv[1:] if argv is None else argv, extra_cli_opts=[command])
    sys.exit(conf.command.func(conf))
