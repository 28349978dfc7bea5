"""Options of the [conductor] group: host liveness."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("conductor", title="Conductor options")

OPTS = [
    cfg.FloatOpt(
        "host_down_after",
        default=60.0,
        min=1.0,
        help="Seconds without a heartbeat or report after which a host is marked down. Its "
        "devices stay listed, flagged by the host state; a heartbeat brings it back up. Use "
        "several [agent] heartbeat_interval periods. Example: 30.",
    ),
    cfg.FloatOpt(
        "liveness_interval",
        default=10.0,
        min=0.1,
        help="Seconds between two liveness checks (one query for hosts whose heartbeat is "
        "older than host_down_after). Several conductors may check at once: a host is marked "
        "down once, by whichever conductor's conditional update wins.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [conductor] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts (oslo.config copies groups shallowly).
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
