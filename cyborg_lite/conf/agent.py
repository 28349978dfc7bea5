"""Options of the [agent] group: which drivers run, where they read the host, how often."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("agent", title="Host agent options")

OPTS = [
    cfg.ListOpt(
        "enabled_drivers",
        default=["nvidia", "amd", "fpga_intel", "fpga_xilinx", "opencl"],
        help="Drivers the agent loads (entry points of group cyborg_lite.drivers). "
        "Example: nvidia,opencl,simulated.",
    ),
    cfg.StrOpt(
        "sysfs_root",
        default="/",
        help="Root under which drivers read sys/ and proc/ (tests point it at a fixture tree). "
        "Example: /tmp/fake-host.",
    ),
    cfg.FloatOpt(
        "discovery_timeout",
        default=60.0,
        min=1.0,
        help="Seconds one driver's discovery may take before it is reported as timed out; the "
        "other drivers' devices are reported regardless.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [agent] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts (oslo.config copies groups shallowly).
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
