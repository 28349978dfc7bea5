"""Report inventories to Cyborg's conductor over RabbitMQ, as Cyborg's agent does.

Runs inside the peer's own virtualenv (it imports Cyborg). It reads a JSON file mapping
hostnames to device lists in cyborg-lite's wire form (what cyborg-lite's simulated driver
reports), turns each host's list into Cyborg's ``DriverDevice`` objects (the same devices,
deployables, attributes and PCI attach handles) and sends them with Cyborg's own conductor RPC
client (``report_data``, a call), so both systems are seeded with the same data through their
own reporting paths.

Modes (one JSON line of results on stdout):

* ``seed``: report every host once, with ``--threads`` parallel callers.
* ``ingest``: re-report unchanged hosts for ``--seconds`` (at most ``--max-calls`` calls)
  from ``--threads`` callers; calls/s and latencies.
* ``changed``: for ``--max-calls`` hosts, report once with one device's vendor board info
  changed; the latencies.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["seed", "ingest", "changed"])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-calls", type=int, default=100000)
    return parser.parse_args()


def _objects(
    host: str, devices: list[dict[str, Any]], change: tuple[int, str] | None = None
) -> list[Any]:
    """Cyborg DriverDevice objects for cyborg-lite device dicts (one device ``change``d)."""
    from cyborg.objects.driver_objects import driver_attach_handle as dah
    from cyborg.objects.driver_objects import driver_attribute as dattr
    from cyborg.objects.driver_objects import driver_controlpath_id as dcp
    from cyborg.objects.driver_objects import driver_deployable as ddep
    from cyborg.objects.driver_objects import driver_device as ddev

    out = []
    for index, d in enumerate(devices):
        dom, bus, rest = d["pci_address"].split(":")
        dev, fn = rest.split(".")
        cpid = dcp.DriverControlPathID(
            cpid_type="PCI",
            cpid_info=json.dumps({"domain": dom, "bus": bus, "device": dev, "function": fn}),
        )
        deployables = []
        for dep in d["deployables"]:
            attrs = [dattr.DriverAttribute(key="rc", value=dep["resource_class"])]
            for i, trait in enumerate(dep["traits"]):
                attrs.append(dattr.DriverAttribute(key=f"trait{i}", value=trait))
            handles = []
            for h in dep["attach_handles"]:
                hd, hb, hr = h["pci_address"].split(":")
                hv, hf = hr.split(".")
                info = {"domain": hd, "bus": hb, "device": hv, "function": hf}
                handles.append(
                    dah.DriverAttachHandle(
                        attach_type=h["attach_type"], attach_info=json.dumps(info), in_use=False
                    )
                )
            deployables.append(
                ddep.DriverDeployable(
                    name=f"{host}_{dep['name']}",
                    num_accelerators=dep["num_accelerators"],
                    attribute_list=attrs,
                    attach_handle_list=handles,
                    driver_name=d["driver"],
                )
            )
        board = dict(d["vendor_board_info"])
        if change is not None and index == change[0]:
            board["bench_change"] = change[1]
        out.append(
            ddev.DriverDevice(
                vendor=d["vendor"],
                model=d["model"],
                type=d["type"],
                std_board_info=json.dumps(d["std_board_info"], sort_keys=True),
                vendor_board_info=json.dumps(board, sort_keys=True),
                controlpath_id=cpid,
                deployable_list=deployables,
                stub=False,
            )
        )
    return out


def main() -> None:
    """Run one mode and print its results as one JSON line."""
    args = _parse()
    from cyborg import objects
    from cyborg.common import rpc
    from cyborg.conductor import rpcapi
    from cyborg.context import get_admin_context
    from oslo_config import cfg

    cfg.CONF(["--config-file", args.config_file], project="cyborg")
    objects.register_all()
    rpc.init(cfg.CONF)
    with open(args.inventory) as f:
        inventory = json.load(f)
    hosts: list[str] = sorted(inventory)
    api = rpcapi.ConductorAPI()
    ctx = get_admin_context()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + (args.seconds if args.mode == "ingest" else 3600.0)
    # Build the objects once: the cost measured is the conductor's, not this client's.
    prepared = {h: _objects(h, inventory[h]) for h in hosts}
    # How many hosts report once (every mode but ingest, which counts calls instead).
    todo = min(args.max_calls, len(hosts))
    counter = [0]

    def next_host() -> str | None:
        with lock:
            n = counter[0]
            if args.mode == "ingest":
                if n >= args.max_calls or time.monotonic() >= deadline:
                    return None
            elif n >= todo:
                return None
            counter[0] = n + 1
            return hosts[n % len(hosts)]

    def worker() -> None:
        while True:
            host = next_host()
            if host is None:
                return
            devices = prepared[host]
            if args.mode == "changed":
                devices = _objects(host, inventory[host], change=(0, str(time.time())))
            t0 = time.perf_counter()
            # Seeding retries a failed host twice (a timeout under load); measuring never does.
            tries = 3 if args.mode == "seed" else 1
            failure = None
            for _ in range(tries):
                try:
                    api.report_data(ctx, host, devices)
                    failure = None
                    break
                except Exception as err:  # record and go on: the figure says how many failed
                    failure = repr(err)[:200]
            if failure is not None:
                with lock:
                    errors.append(failure)
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.threads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "calls": len(latencies),
                "errors": len(errors),
                "first_errors": errors[:3],
                "elapsed": elapsed,
                "latencies": latencies,
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
