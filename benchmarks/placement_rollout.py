"""The 1,000-device rollout with Placement configured: what issue 15's first point changed.

Before it, the rollout engine drained each device in Placement inside the transaction of its
pass (on SQLite, behind the one lock every conductor thread shares); after it, a job starts in
steps and Placement is called with no transaction open. This runs the quick plan's rollout
(100 simulated hosts x 10 H100s, one wave, ``max_in_flight`` 1,000) against a real Placement
(``openstack-placement`` served by gunicorn, noauth2) and prints its figures as JSON.

    python -m benchmarks.placement_rollout [--out FILE]

Run it from each checkout to compare, one after the other on the same machine: the figures of
this two-core machine vary between runs (``RESULTS.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import lite, loadgen, procs, run, workloads

HERE = Path(__file__).resolve().parent
HOSTS, PER_HOST = 100, 10


def _placement(work: Path) -> tuple[procs.Proc, str]:
    """Placement on a free port, its schema made by the app itself (sync_on_startup)."""
    folder = work / "placement"
    folder.mkdir(parents=True)
    (folder / "placement.conf").write_text(
        "[DEFAULT]\ndebug = False\n[api]\nauth_strategy = noauth2\n"
        f"[placement_database]\nconnection = sqlite:///{folder / 'placement.sqlite'}\n"
        "sync_on_startup = True\n"
    )
    port = procs.free_port()
    proc = procs.Proc(
        "placement",
        # One worker: on SQLite Placement takes one writer at a time anyway.
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "placement.wsgi.api:application",
        ],
        folder / "placement.log",
        env={"OS_PLACEMENT_CONFIG_DIR": str(folder)},
        cwd=folder,
    )
    procs.wait_port(proc, port)
    return proc, f"http://127.0.0.1:{port}"


def _providers(url: str) -> int:
    """How many resource providers Placement holds."""
    headers = {"x-auth-token": "admin", "OpenStack-API-Version": "placement 1.14"}
    resp = loadgen.one_shot(url, headers, "GET", "/resource_providers", None)
    return len(resp.json()["resource_providers"])


def _wait_providers(url: str, wanted: int, timeout: float) -> float:
    """Seconds until Placement holds ``wanted`` providers (hosts and devices)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with contextlib.suppress(OSError):
            if _providers(url) >= wanted:
                return time.monotonic() - t0
        time.sleep(1.0)
    raise RuntimeError(f"Placement did not reach {wanted} providers in {timeout}s")


def measure(work: Path) -> dict[str, Any]:
    """Seed the fleet, wait for its providers, roll out; the rollout's figures."""
    with contextlib.ExitStack() as stack:
        placement, url = _placement(work)
        stack.callback(placement.stop)
        transport = stack.enter_context(procs.rabbit_vhost("bench_placement"))
        system = lite.Lite(work / "lite", transport, workers=run.WORKERS, threads=run.THREADS)
        with system.conf.open("a") as conf:
            conf.write(
                "[placement]\nauth_type = admin_token\n"
                f"endpoint = {url}\ntoken = admin\ncreate_compute_providers = true\n"
            )
        stack.callback(system.stop)
        system.start()
        total = HOSTS * PER_HOST
        system.start_agents(HOSTS, 125, "fleet", mix=f"nvidia-h100:{PER_HOST}")
        seeded = system.wait_devices(total, timeout=600)
        synced = _wait_providers(url, HOSTS + total, timeout=900)
        image = workloads.upload_image(system, "96.00.99.00.02")
        pid = system.procs["conductor"].pid
        figures = run.measure_rollout(system, image, pid, total)
        figures.pop("document", None)
        return {"seed_s": seeded, "placement_sync_s": synced, **figures}


def main() -> None:
    """Run once, print and keep the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()
    work = HERE / ".work" / f"placement-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    figures = measure(work)
    text = json.dumps(figures, indent=2, sort_keys=True)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
