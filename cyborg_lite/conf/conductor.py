"""Options of the [conductor] group: host liveness, the conductors sharing the fleet, and
the firmware rollout engine."""

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
    cfg.FloatOpt(
        "rollout_lease_seconds",
        default=30.0,
        min=1.0,
        help="How long a conductor's claim on a rollout lasts without renewal. When a conductor "
        "dies, another takes its rollouts over after this long and carries on (jobs caught "
        "between drain and dispatch are sent again; agents run a job at most once).",
    ),
    cfg.FloatOpt(
        "rollout_sweep_seconds",
        default=10.0,
        min=0.1,
        help="Seconds between two sweeps of unfinished rollouts: leases are renewed, overdue "
        "jobs asked about, jobs on down hosts failed. Keep it under half of "
        "rollout_lease_seconds. Job results and API actions advance a rollout at once; the "
        "sweep only catches what no message announces.",
    ),
    cfg.FloatOpt(
        "firmware_job_timeout",
        default=1800.0,
        min=1.0,
        help="Seconds a firmware job may go without a result before its agent is asked about "
        "it; an agent still working on it extends the deadline, one that never heard of it "
        "gets the job again (up to firmware_job_max_attempts), else the job fails as timed "
        "out. Example: 3600 for FPGA shells that take long to write.",
    ),
    cfg.IntOpt(
        "firmware_job_max_attempts",
        default=3,
        min=1,
        help="Dispatches of one job before an agent that never answers makes it fail.",
    ),
    cfg.FloatOpt(
        "agent_call_timeout",
        default=10.0,
        min=0.1,
        help="Seconds to wait for an agent's answer when asking about a job.",
    ),
    cfg.FloatOpt(
        "heartbeat_interval",
        default=10.0,
        min=0.1,
        help="Seconds between two heartbeats of a conductor in the conductors table. Each "
        "beat also rereads the live conductors and rebuilds the hash ring that assigns hosts "
        "to them. Keep it well under dead_after.",
    ),
    cfg.FloatOpt(
        "dead_after",
        default=60.0,
        min=1.0,
        help="Seconds without a heartbeat after which a conductor counts as dead: its hosts "
        "move to the live conductors (at the others' next heartbeat, so within dead_after + "
        "heartbeat_interval). A conductor that stops cleanly deregisters at once.",
    ),
    cfg.IntOpt(
        "hash_partition_exponent",
        default=10,
        min=1,
        max=16,
        help="2^N points of each conductor on the hash ring. ironic uses 5; 10 is the "
        "default here because with 3 conductors 2^5 points left shares of 10,000 hosts "
        "16% off even, and 2^10 about 4% (tooz's ring, measured). Every conductor must use "
        "the same value, or they disagree on owners.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [conductor] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts (oslo.config copies groups shallowly).
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
