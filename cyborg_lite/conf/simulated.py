"""Options of the [simulated] group: the simulated driver's fleet and its flash behaviour."""

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
