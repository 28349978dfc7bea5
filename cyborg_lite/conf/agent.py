"""Options of the [agent] group: which drivers run, where they read the host, how often, and
where firmware jobs get their images and how long they are remembered, and how often usage is
sampled and sent."""

from __future__ import annotations

from oslo_config import cfg

# Where the all-in-one's API listens by default; the all-in-one points its agents at its own
# [api] port when this is left alone.
DEFAULT_API_ENDPOINT = "http://127.0.0.1:6666"

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
    cfg.FloatOpt(
        "report_interval",
        default=60.0,
        min=0.1,
        help="Seconds between two discoveries. A report goes to the conductor only when the "
        "inventory changed since the last one (its digest differs); a `refresh` request or a "
        "restart reports in full at once. Example: 300 on large, quiet fleets.",
    ),
    cfg.FloatOpt(
        "heartbeat_interval",
        default=10.0,
        min=0.1,
        help="Seconds between two heartbeats (a small message with the inventory digest) when "
        "nothing changed. Keep it well under [conductor] host_down_after, so that a few lost "
        "heartbeats do not mark the host down.",
    ),
    cfg.FloatOpt(
        "job_report_delay",
        default=2.0,
        min=0.0,
        help="Seconds after a firmware job ends before the agent discovers again and reports "
        "what the device now runs. The job's result already carries the new version; the "
        "delay lets a host that flashes its devices one after the other send one report for "
        "several jobs instead of one per job.",
    ),
    cfg.FloatOpt(
        "result_batch_seconds",
        default=0.05,
        min=0.0,
        help="Seconds an agent process gathers firmware job results and progress before "
        "sending them to the conductor as one message (RPC 1.6; every host of a simulated "
        "fleet shares it). 0 sends each result on its own, as agents before 1.6 did. "
        "Example: 0.2 for a fleet process of thousands of hosts.",
    ),
    cfg.FloatOpt(
        "rpc_timeout",
        default=30.0,
        min=1.0,
        help="Seconds the agent waits for the conductor to answer a report or heartbeat before "
        "it tries again at the next interval.",
    ),
    cfg.URIOpt(
        "api_endpoint",
        default=DEFAULT_API_ENDPOINT,
        schemes=["http", "https"],
        help="Base URL of the cyborg-lite API, from which the agent downloads firmware images "
        "(GET /v2/firmware_images/{uuid}/file) before flashing them. Credentials are in "
        "[agent_api]. Example: https://accelerator.example.com:6666.",
    ),
    cfg.IntOpt(
        "download_retries",
        default=3,
        min=0,
        help="How many times the agent retries connecting to the API for one image download "
        "(with a growing delay) before the firmware job fails with download-failed.",
    ),
    cfg.FloatOpt(
        "job_history_days",
        default=30.0,
        min=0.0,
        help="Days a finished, acknowledged firmware job stays in the agent's job file "
        "($state_path/agent-jobs-<host>.json). While it is there, a repeated dispatch of the "
        "same job is recognised and ignored. Unfinished or unacknowledged jobs are never "
        "dropped.",
    ),
    cfg.IntOpt(
        "job_history_max",
        default=500,
        min=1,
        help="Most jobs kept in the agent's job file; the oldest acknowledged ones go first "
        "(unfinished and unacknowledged jobs are always kept, beyond this number if need be).",
    ),
    cfg.FloatOpt(
        "usage_interval",
        default=10.0,
        min=0.0,
        help="Seconds between two usage samples of this host's devices (utilization, memory, "
        "power, temperature, compute processes, as each driver can read them). Samples stay "
        "on the host: the conductor receives one summary per device per "
        "usage_report_interval. 0 turns usage off (nothing sampled, nothing sent).",
    ),
    cfg.IntOpt(
        "usage_report_interval",
        default=60,
        min=1,
        help="Seconds of one usage interval: one message per host per interval carries every "
        "device's summary of it (mean and max utilization, memory, power, the last time it "
        "was busy). Intervals are aligned on the clock (every minute on the minute by "
        "default); use a divisor of 3600 so that hourly rollups are exact.",
    ),
    cfg.IntOpt(
        "usage_backlog",
        default=60,
        min=0,
        help="Usage intervals kept while the conductor cannot be reached; they go with the "
        "next interval's message once it answers. Beyond this many the oldest are dropped "
        "(and logged). 60 intervals of 60 s: an hour's outage loses nothing.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [agent] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts (oslo.config copies groups shallowly).
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
