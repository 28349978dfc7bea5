"""Options of the [database] group: the SQL connection."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("database", title="SQL database options")

OPTS = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="SQLAlchemy URL of the database. Default: a SQLite file cyborg-lite.sqlite under "
        "[DEFAULT] state_path. Examples: postgresql+psycopg2://cyborg:secret@db/cyborg, "
        "mysql+pymysql://cyborg:secret@db/cyborg?charset=utf8mb4.",
    ),
    cfg.IntOpt(
        "pool_size",
        default=10,
        min=1,
        help="Connections kept open per process (PostgreSQL and MySQL only).",
    ),
    cfg.BoolOpt(
        "connection_debug",
        default=False,
        help="Log every SQL statement (noisy; for debugging only).",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [database] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts: oslo.config copies groups shallowly, so sharing the
    # module-level one would share option overrides between configurations.
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
