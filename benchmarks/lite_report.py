"""Report inventories to cyborg-lite's conductor over RabbitMQ, as its agents do.

The counterpart of ``peer_side/cyborg_report.py`` (same modes, same inventory file, same
threads and bounds), with cyborg-lite's own conductor RPC client. ``ingest`` sends full
reports whose digest is already stored (what Cyborg's agent sends every time);
``heartbeat`` sends what cyborg-lite's agent really sends when nothing changed; ``changed``
sends full reports with one device's board info changed. Prints one JSON line.
Run as ``python -m benchmarks.lite_report MODE --config-file ... --inventory ...``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["seed", "ingest", "heartbeat", "changed"])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-calls", type=int, default=100000)
    return parser.parse_args()


def _report(host: str, devices: list[dict[str, Any]]) -> dict[str, Any]:
    from cyborg_lite import __version__
    from cyborg_lite.agent import manager

    return {
        "host": host,
        "agent_version": __version__,
        "digest": manager.digest(devices, []),
        "devices": devices,
        "driver_errors": [],
    }


def main() -> None:
    """Run one mode and print its results as one JSON line."""
    args = _parse()
    from cyborg_lite import __version__, rpc
    from cyborg_lite import conf as cl_conf
    from cyborg_lite.conductor import rpcapi

    conf = cl_conf.make_conf(["--config-file", args.config_file])
    transport = rpc.get_transport(conf)
    api = rpcapi.ConductorAPI(transport, timeout=120)
    ctx = rpc.admin_context()
    with open(args.inventory) as f:
        inventory = json.load(f)
    hosts: list[str] = sorted(inventory)
    prepared = {h: _report(h, inventory[h]) for h in hosts}
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = [0]
    started = time.monotonic()
    timed = args.mode in ("ingest", "heartbeat")
    deadline = started + (args.seconds if timed else 3600.0)
    limit = args.max_calls if timed else min(args.max_calls, len(hosts))

    def next_host() -> str | None:
        with lock:
            n = counter[0]
            if n >= limit or (timed and time.monotonic() >= deadline):
                return None
            counter[0] = n + 1
            return hosts[n % len(hosts)]

    def worker() -> None:
        while (host := next_host()) is not None:
            report = prepared[host]
            if args.mode == "changed":
                devices = json.loads(json.dumps(inventory[host]))
                devices[0]["vendor_board_info"]["bench_change"] = str(time.time())
                report = _report(host, devices)
            t0 = time.perf_counter()
            try:
                if args.mode == "heartbeat":
                    api.heartbeat(ctx, host, __version__, report["digest"])
                else:
                    api.report_inventory(ctx, report)
            except Exception as err:  # record and go on: the figure says how many failed
                with lock:
                    errors.append(repr(err)[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.threads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    transport.cleanup()
    result = {
        "calls": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "elapsed": elapsed,
        "latencies": latencies,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
