"""Options of the [lending] group: how often the conductor's lending engine sweeps every
pool, and how often it looks whether a reclaim took effect (issue 17)."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("lending", title="Accelerator lending options")

OPTS = [
    cfg.FloatOpt(
        "sweep_seconds",
        default=30.0,
        min=1.0,
        help="Seconds between two sweeps of the conductor's lending engine over every pool. "
        "Between sweeps it passes over a pool when the API changes it and when the pool is "
        "due (a window opening or closing, a device idle long enough, a reclaim deadline); "
        "the sweep picks up a lost change and another conductor's work. It is also the least "
        "time between two attempts of a failed reclaim action (Nova refusing a stop, shelve "
        "or delete, or accepting one that has not taken effect by then). Example: 10 for a "
        "quicker retry against a flaky Nova.",
    ),
    cfg.FloatOpt(
        "confirm_seconds",
        default=5.0,
        min=0.1,
        help="Seconds between two looks at a borrower's server after Nova accepted the "
        "pool's on_reclaim action (GET /servers/{id}): once it is SHUTOFF, shelved or gone, "
        "the device is taken back from the borrower's ARQ and the loan closes. Example: 1 "
        "for a quicker give-back on a small cloud.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [lending] options on ``conf``."""
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
