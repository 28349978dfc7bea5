"""Options of the [lending] group: how often the conductor's lending engine sweeps every
pool (issue 17)."""

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
        "or delete). Example: 10 for a quicker retry against a flaky Nova.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [lending] options on ``conf``."""
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
