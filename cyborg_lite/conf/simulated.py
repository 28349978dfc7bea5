"""Options of the [simulated] group: the simulated driver's fleet, its flash behaviour and the
usage its devices report."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("simulated", title="Simulated driver options")

OPTS = [
    cfg.ListOpt(
        "devices",
        default=["nvidia-h100:2", "amd-mi300x:1", "intel-n6001:1", "xilinx-u280:1"],
        help="The devices each simulated host presents, as MODEL:COUNT items. Models: "
        "nvidia-h100, nvidia-a100, nvidia-t4, amd-mi300x, amd-mi210, intel-n6001, "
        "intel-pac-a10, xilinx-u280, xilinx-u250. Example: nvidia-a100:4,xilinx-u250:2.",
    ),
    cfg.FloatOpt(
        "flash_seconds",
        default=2.0,
        min=0.0,
        help="Seconds one simulated flash takes.",
    ),
    cfg.FloatOpt(
        "flash_failure_rate",
        default=0.0,
        min=0.0,
        max=1.0,
        help="Probability (0 to 1) that a simulated flash fails with a hardware error and "
        "leaves the version unchanged. Example: 0.05 for one flash in twenty.",
    ),
    cfg.StrOpt(
        "physical_network",
        default="physnet1",
        help="The Neutron physical network the ports of simulated SmartNICs (intel-n6001) "
        "serve, reported as physical_network in their PCI attach handle, which Nova requires "
        "of an ARQ bound to a port of vnic type accelerator-direct. Empty: not reported. "
        "Other models are no NICs and never report one. Example: physnet2.",
    ),
    cfg.ListOpt(
        "usage",
        default=[],
        help="The load each simulated model runs at, as MODEL:PERCENT items (0 to 100); a "
        "model not listed is idle (0 %). Memory used, power and temperature scale with the "
        "percent between the model's idle and full-load figures, and a device above 0 % runs "
        "one compute process. FPGAs show a load only while a bitstream is loaded. An unknown "
        "model or a percent outside 0-100 is reported as this driver's error. "
        "Example: nvidia-h100:85,amd-mi300x:0,xilinx-u280:40.",
    ),
    cfg.ListOpt(
        "usage_schedule",
        default=[],
        help="Weekly windows in which devices run at their usage figure, as 'DAYS HH:MM-HH:MM' "
        "items: DAYS is a day (mon..sun) or a range (mon-fri, fri-mon); the end may be 24:00, "
        "and an end before the start runs past midnight into the next day. Outside every "
        "window devices are idle. Empty: always at their usage figure. A malformed item is "
        "reported as this driver's error. Example: mon-fri 09:00-18:00,sat 10:00-14:00.",
    ),
    cfg.StrOpt(
        "usage_timezone",
        default="UTC",
        help="The IANA time zone usage_schedule's times are in. Example: Europe/Berlin.",
    ),
    cfg.FloatOpt(
        "bound_usage",
        min=0.0,
        max=100.0,
        help="The load (percent) of a simulated device bound to an ARQ, in place of its "
        "model's usage figure, so 'allocated but idle' (0) or 'busy only when bound' can be "
        "shown on purpose; usage_schedule still applies. Unset: the same as usage. Example: 0.",
    ),
    cfg.FloatOpt(
        "usage_jitter",
        default=2.0,
        min=0.0,
        max=50.0,
        help="Random variation (plus or minus this many percentage points) added to each "
        "sampled load, kept within 0-100; an idle device (0 %) stays exactly 0. Example: 5.",
    ),
    cfg.StrOpt(
        "ledger_path",
        sample_default="$state_path/simulated/flash-ledger.jsonl",
        help="File to which every simulated flash attempt is appended as one JSON line (host, "
        "device, component, image sha256, old and new version, result, start and end time). "
        "Default: simulated/flash-ledger.jsonl under [DEFAULT] state_path.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [simulated] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts (oslo.config copies groups shallowly).
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
