"""``cyborg-lite-agent``: the host agent; ``cyborg-lite-agent discover`` checks the drivers.

``--host NAME`` (or ``[DEFAULT] host``) sets the identity, so several agents can run on one
machine (tests, benchmarks). ``discover [--format json|table]`` runs discovery once, prints
the devices and exits without contacting anything; its status is 1 when a driver failed.
``sample [--format json|table]`` discovers, then takes one usage sample and prints it the same
way (``sample_document`` has the shape).
``--simulated-hosts N`` runs N simulated hosts in one process instead (``<host>-0001`` ...),
each with its own identity on the bus: a fleet for tests and benchmarks on one machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import conf as cl_conf
from cyborg_lite import rpc
from cyborg_lite.agent import discovery
from cyborg_lite.agent import fleet as fleet_mod
from cyborg_lite.agent import service as agent_service
from cyborg_lite.agent import usage as agent_usage
from cyborg_lite.cmd import serve
from cyborg_lite.conf import default
from cyborg_lite.conf import usage as usage_conf
from cyborg_lite.drivers import base
from cyborg_lite.usage import summary

LOG = logging.getLogger(__name__)
# Job threads a fleet of simulated hosts shares (its flashes are simulated: short waits).
FLEET_POOL_MAX = 32

FLEET_OPTS = [
    cfg.IntOpt(
        "simulated-hosts",
        default=0,
        min=0,
        help="Run this many simulated hosts in this process (each an agent with its own "
        "identity, <host>-0001 ..., and only the simulated driver) instead of one real agent. "
        "For tests and benchmarks.",
    ),
]


def _add_parsers(subparsers: Any) -> None:
    # No subcommand runs the service.
    subparsers.required = False
    disc = subparsers.add_parser(
        "discover", help="Run discovery once and print the devices; contacts nothing."
    )
    disc.add_argument("--format", choices=["json", "table"], default="table")
    disc.add_argument("--host", dest="discover_host", help="Host identity to discover as.")
    samp = subparsers.add_parser(
        "sample",
        help="Discover, take one usage sample of the devices and print it; contacts nothing.",
    )
    samp.add_argument("--format", choices=["json", "table"], default="table")
    samp.add_argument("--host", dest="discover_host", help="Host identity to sample as.")


def _table(devices: list[dict[str, Any]]) -> str:
    header = ("DRIVER", "TYPE", "VENDOR", "MODEL", "PCI_ADDRESS", "FIRMWARE")
    rows = [header] + [
        (
            str(d["driver"]),
            str(d["type"]),
            str(d["vendor"]),
            str(d["model"]),
            str(d.get("pci_address") or "-"),
            ", ".join(f"{f['component']}={f['version']}" for f in d.get("firmware", ())) or "-",
        )
        for d in devices
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever is written to stdout meanwhile to stderr, at the descriptor level too.

    ``discover --format json`` is piped into ``jq``: its stdout must carry the document only,
    yet vendor libraries loaded by the drivers (NVML, amdsmi, an OpenCL ICD in the probe's
    child process, which inherits descriptor 1) may print, and Python handlers may have
    captured ``sys.stdout``.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no descriptor 1 (a test's captured stream): the Python level suffices
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def discover(conf: cfg.ConfigOpts, fmt: str) -> int:
    """Print what the enabled drivers see; 1 when any driver failed, else 0."""
    with stdout_to_stderr():
        drivers, load_errors = discovery.load(conf, list(conf.agent.enabled_drivers))
        found = discovery.run(drivers, float(conf.agent.discovery_timeout))
    # The wire form, as the conductor would receive it.
    devices = json.loads(json.dumps([base.to_dict(d) for d in found.devices]))
    if fmt == "json":
        print(json.dumps(devices, indent=2, sort_keys=True))
    else:
        print(_table(devices))
    sys.stdout.flush()
    errors = [*load_errors, *found.errors]
    for err in errors:
        print(f"driver {err.driver} failed: {err.error}", file=sys.stderr)
    return 1 if errors else 0


def sample_document(
    host: str, devices: Sequence[base.Device], taken: agent_usage.Taken, idle_percent: float
) -> dict[str, Any]:
    """One sample as ``sample --format json`` prints it::

        {"host": "node-1", "sampled_at": "2026-01-02T03:04:05.123456+00:00",
         "devices": [{"stable_id", "driver", "type", "model", "pci_address",
                      "utilization_percent", "memory_used_bytes", "memory_total_bytes",
                      "power_watts", "temperature_celsius", "processes", "in_use",
                      "busy",
                      "deployables": [{"deployable", "utilization_percent", ...}]}]}

    Each device's figures are its samples merged with its MIG slices' (what the agent keeps
    per sample); ``busy`` is the verdict against ``[usage] idle_percent`` (null: unknown);
    ``deployables`` are the per-slice samples as the driver gave them. A figure the driver
    cannot read is null, never 0. Devices the drivers gave no sample for are left out.
    """
    readings = taken.readings()
    out = []
    for device in devices:
        reading = readings.get(device.stable_id)
        if reading is None:
            continue
        slices = [
            {k: v for k, v in agent_usage.as_mapping(s).items() if k != "stable_id"}
            for s in taken.samples[device.stable_id]
            if s.deployable
        ]
        out.append(
            {
                "stable_id": device.stable_id,
                "driver": device.driver,
                "type": device.type,
                "model": device.model,
                "pci_address": device.pci_address,
                **dataclasses.asdict(reading),
                "busy": summary.busy(reading, idle_percent),
                "deployables": slices,
            }
        )
    return {"host": host, "sampled_at": taken.at.isoformat(), "devices": out}


def _figure(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _sample_table(document: dict[str, Any]) -> str:
    header = ("DRIVER", "TYPE", "MODEL", "UTIL%", "MEM_USED", "POWER_W", "TEMP_C", "PROCS", "BUSY")
    keys = ("utilization_percent", "memory_used_bytes", "power_watts", "temperature_celsius")
    rows = [header] + [
        (
            str(d["driver"]),
            str(d["type"]),
            str(d["model"]),
            *(_figure(d[k]) for k in keys),
            _figure(d["processes"]),
            {True: "yes", False: "no", None: "-"}[d["busy"]],
        )
        for d in document["devices"]
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)


def sample(conf: cfg.ConfigOpts, fmt: str) -> int:
    """Print one usage sample of what the enabled drivers see; 1 when a driver failed to load,
    discover or sample, else 0."""
    with stdout_to_stderr():
        drivers, load_errors = discovery.load(conf, list(conf.agent.enabled_drivers))
        found = discovery.run(drivers, float(conf.agent.discovery_timeout))
        taken = agent_usage.take(drivers, found.by_driver)
    idle_percent = float(usage_conf.of(conf).idle_percent)
    document = sample_document(str(conf.host), found.devices, taken, idle_percent)
    if fmt == "json":
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        print(_sample_table(document))
    sys.stdout.flush()
    errors = [*load_errors, *found.errors, *taken.errors]
    for err in errors:
        print(f"driver {err.driver} failed: {err.error}", file=sys.stderr)
    return 1 if errors else 0


# The subcommands that run once and print a document on stdout.
ONE_SHOT = {"discover": discover, "sample": sample}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the agent until stopped, or ``discover`` or ``sample`` once."""
    args = list(sys.argv[1:] if argv is None else argv)
    conf = cl_conf.make_conf(args, extra_cli_opts=cli_opts())
    one_shot = ONE_SHOT.get(conf.command.name or "")
    if one_shot is not None and not conf.log_file:
        # oslo.log writes to stdout when given no file; the command's stdout is its document.
        conf.set_override("use_stderr", True)
    logging.setup(conf, "cyborg-lite")
    if one_shot is not None:
        if conf.command.discover_host:
            conf.set_override("host", conf.command.discover_host)
        code = one_shot(conf, conf.command.format)
        serve.exit_if_stuck(code)
        sys.exit(code)
    transport = rpc.get_transport(conf)
    agents: list[serve.Service]
    if conf.simulated_hosts:
        agents = [fleet(conf, args, transport)]
    else:
        agents = [agent_service.create_service(conf, transport)]
    serve.run_until_signalled(agents, "cyborg-lite-agent")


def fleet(conf: cfg.ConfigOpts, argv: Sequence[str], transport: Any) -> fleet_mod.Fleet:
    """``[--simulated-hosts]`` agents, each with a ConfigOpts of its own (its host identity)
    parsed from the same files and arguments, sharing one transport, loop threads and job
    pool (``agent.fleet.Fleet``)."""
    count = int(conf.simulated_hosts)
    group = fleet_mod.Fleet(pool_size=min(FLEET_POOL_MAX, 4 * count))
    for i in range(1, count + 1):
        one = cl_conf.make_conf(argv, extra_cli_opts=cli_opts())
        one.set_override("host", f"{conf.host}-{i:04d}")
        one.set_override("enabled_drivers", ["simulated"], group="agent")
        agent_service.create_service(one, transport, fleet=group)
    return group


def cli_opts() -> list[cfg.Opt]:
    """The agent's command-line options beside oslo's usual ones."""
    command = cfg.SubCommandOpt("command", title="Commands", handler=_add_parsers)
    host_opt = next(o for o in default.OPTS if o.name == "host")
    return [command, host_opt, *FLEET_OPTS]
