"""Options of the [usage] group: how long the conductor keeps usage figures, when a device
counts as idle, and how the history is rolled up and pruned (issue 16)."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("usage", title="Accelerator usage options")

OPTS = [
    cfg.IntOpt(
        "retention_hours",
        default=48,
        min=1,
        help="Hours the conductor keeps each device's per-interval usage (one row per device "
        "per [agent] usage_report_interval). Older intervals live on as hourly rollups. "
        "Example: 168 to keep a week at full resolution.",
    ),
    cfg.IntOpt(
        "history_days",
        default=90,
        min=1,
        help="Days the conductor keeps each device's hourly usage rollups.",
    ),
    cfg.FloatOpt(
        "idle_percent",
        default=5.0,
        min=0.0,
        max=100.0,
        help="A device is idle while its utilization stays under this percentage and no "
        "compute process runs on it (nor, for an FPGA, a function its tools say is in use). "
        "Read by the agents, which judge each sample: set it where they run.",
    ),
    cfg.IntOpt(
        "allocated_idle_after",
        default=3600,
        min=0,
        help="Seconds a device bound to an accelerator request may stay idle before the API "
        "reports it as allocated but idle. Example: 86400 for a day.",
    ),
    cfg.FloatOpt(
        "prune_interval",
        default=300.0,
        min=1.0,
        help="Seconds between two passes of the conductor's usage housekeeping: completed "
        "hours rolled up, then intervals older than retention_hours and rollups older than "
        "history_days deleted. Several conductors may run it at once; each rollup lands once.",
    ),
    cfg.IntOpt(
        "prune_batch",
        default=1000,
        min=1,
        help="Rows deleted per statement (each in its own short transaction) when pruning, so "
        "that pruning a large backlog never holds locks for long.",
    ),
    cfg.IntOpt(
        "rollup_delay",
        default=3900,
        min=0,
        help="Seconds after an hour ends before its intervals are rolled up into the hourly "
        "row. An interval that arrives later (an agent's backlog after an outage) is kept at "
        "full resolution but not counted in the hour's rollup, so keep it above the agents' "
        "[agent] usage_backlog times [agent] usage_report_interval.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [usage] options on ``conf``."""
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)


def of(conf: cfg.ConfigOpts) -> cfg.ConfigOpts.GroupAttr:
    """``conf``'s [usage] group. Read it through here, never as ``conf.usage``: ConfigOpts has
    an attribute of that name (its argparse usage text), which hides the group."""
    group: cfg.ConfigOpts.GroupAttr = conf[GROUP.name]
    return group
