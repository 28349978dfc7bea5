"""Options of the [aio] group: what the all-in-one service runs beside the API."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("aio", title="All-in-one service options")

OPTS = [
    cfg.IntOpt(
        "simulated_hosts",
        default=4,
        min=0,
        help="Simulated hosts the all-in-one runs, each an agent with its own host identity "
        "(sim-host-01, sim-host-02, ...) and the simulated driver's fleet ([simulated] "
        "devices). 0 runs none; the agent for the real local drivers runs regardless.",
    ),
    cfg.StrOpt(
        "simulated_host_prefix",
        default="sim-host-",
        help="Prefix of the simulated hosts' names; a two-digit number follows. "
        "Example: lab-node- gives lab-node-01, lab-node-02, ...",
    ),
    cfg.BoolOpt(
        "local_agent",
        default=True,
        help="Also run an agent for the real local drivers ([agent] enabled_drivers, less "
        "simulated) as [DEFAULT] host. Drivers that cannot load on this machine are skipped "
        "quietly.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [aio] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts (oslo.config copies groups shallowly).
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
