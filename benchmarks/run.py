"""``make bench`` / ``make bench-quick``: run every workload on both systems, write RESULTS.md.

``python -m benchmarks.run [--quick] [--out benchmarks/RESULTS.md] [--no-peer]``. Raw
per-run figures and every process's log stay under ``benchmarks/.work/<time>/``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import counted, lite, peer, procs, report, stats, workloads

HERE = Path(__file__).resolve().parent
HOSTS_A = 125  # x 8 devices = 1,000 devices for workloads 1-3
PROFILES = 200
WORKERS, THREADS = 2, 4


def log(message: str) -> None:
    """Progress on stderr, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _ingest(
    system: Any, mode: str, inventory: Path, plan: workloads.Plan, **kw: Any
) -> dict[str, Any]:
    if isinstance(system, peer.Peer):
        return system.report(mode, inventory, **kw)
    argv = [
        sys.executable,
        "-m",
        "benchmarks.lite_report",
        mode,
        "--config-file",
        str(system.conf),
        "--inventory",
        str(inventory),
        "--threads",
        str(kw.get("threads", 4)),
        "--seconds",
        str(kw.get("seconds", plan.ingest_seconds)),
        "--max-calls",
        str(kw.get("max_calls", 100000)),
    ]
    out = procs.run(argv, timeout=600, env={"PYTHONPATH": str(HERE.parent)})
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _rows_since(system: Any, since: str, hosts: list[str]) -> float:
    """Device rows of ``hosts`` whose ``updated_at`` moved since ``since`` (UTC)."""
    marks = ",".join("?" * len(hosts))
    rows = system.sql(
        f"SELECT count(*) FROM devices WHERE hostname IN ({marks}) AND updated_at >= ?",  # noqa: S608
        (*hosts, since),
    )
    return float(rows[0][0])


def ingestion(
    systems: list[Any], inventory: Path, hosts: list[str], plan: workloads.Plan
) -> dict[str, Any]:
    """Workload 3: unchanged reports per second, then reports with one device changed."""
    out: dict[str, Any] = {}
    for run in range(plan.runs):
        for system in systems:
            modes = ["ingest"] if isinstance(system, peer.Peer) else ["ingest", "heartbeat"]
            for mode in modes:
                cpu0 = procs.cpu_seconds(system.procs["conductor"].pid)
                r = _ingest(system, mode, inventory, plan, threads=4, seconds=plan.ingest_seconds)
                cpu = procs.cpu_seconds(system.procs["conductor"].pid) - cpu0
                rate = r["calls"] / r["elapsed"] if r["elapsed"] else math.nan
                out.setdefault(f"{system.name}|{mode}", []).append(
                    {
                        "rate": rate,
                        "p50": stats.percentile(r["latencies"], 50),
                        "p99": stats.percentile(r["latencies"], 99),
                        "cpu_per_call_ms": 1000 * cpu / r["calls"] if r["calls"] else math.nan,
                        "errors": float(r["errors"]),
                    }
                )
                log(
                    f"  {system.name} {mode} run {run}: {rate:.0f}/s, "
                    f"{r['errors']} errors {r['first_errors'][:1]}"
                )
    for system in systems:
        for run in range(plan.runs):
            n = min(plan.changed_reports, len(hosts))
            since = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
            cpu0 = procs.cpu_seconds(system.procs["conductor"].pid)
            r = _ingest(system, "changed", inventory, plan, threads=1, max_calls=n)
            cpu = procs.cpu_seconds(system.procs["conductor"].pid) - cpu0
            rows = _rows_since(system, since, hosts[:n])
            out.setdefault(f"{system.name}|changed", []).append(
                {
                    "p50": stats.percentile(r["latencies"], 50),
                    "p99": stats.percentile(r["latencies"], 99),
                    "cpu_per_call_ms": 1000 * cpu / r["calls"] if r["calls"] else math.nan,
                    "device_rows_per_report": rows / r["calls"] if r["calls"] else math.nan,
                    "errors": float(r["errors"]),
                }
            )
            log(
                f"  {system.name} changed run {run}: "
                f"p50 {stats.percentile(r['latencies'], 50) * 1000:.1f} ms, rows {rows}"
            )
    return out


def _digest(path: Path) -> str:
    """Short digest of a file and the peer's pins: the key of a seeded snapshot."""
    import hashlib

    h = hashlib.sha256(path.read_bytes())
    h.update(" ".join(peer.PINS).encode())
    return h.hexdigest()[:12]


def phase_a(work: Path, plan: workloads.Plan, results: dict[str, Any], with_peer: bool) -> None:
    """Workloads 1-3 (and their memory figures) on both systems, 1,000 devices each."""
    hosts = [f"bench00-{i:04d}" for i in range(1, HOSTS_A + 1)]
    with contextlib.ExitStack() as stack:
        lite_url = stack.enter_context(procs.rabbit_vhost("bench_lite"))
        system = lite.Lite(work / "lite-a", lite_url, workers=WORKERS, threads=THREADS)
        stack.callback(system.stop)
        system.start()
        solo = system.start_one_agent("bench-solo")
        t0 = time.monotonic()
        system.start_agents(HOSTS_A, HOSTS_A, "bench")
        system.wait_devices(HOSTS_A * 8 + 5, timeout=300)
        seed: dict[str, dict[str, Any]] = {
            "cyborg-lite": {"devices": system.device_count(), "seconds": time.monotonic() - t0}
        }
        log(f"cyborg-lite seeded: {seed['cyborg-lite']}")
        systems: list[Any] = [system]
        inventory = lite.inventory_json(
            lite.simulated_inventory(hosts, lite.DEVICE_MIX, work / "inventory-state"),
            work / "inventory.json",
        )
        if with_peer:
            try:
                peer_url = stack.enter_context(procs.rabbit_vhost("bench_peer"))
                other = peer.Peer(work / "peer-a", peer_url, workers=WORKERS, threads=THREADS)
                stack.callback(other.stop)
                # Seeding Cyborg costs minutes (Placement calls for every deployable), so a
                # seeded snapshot of its databases is kept for later runs with the same data.
                cache = HERE / ".work" / f"peer-seed-{_digest(inventory)}"
                cached = (cache / "complete").exists()
                other.start(restore=cache if cached else None)
                t0 = time.monotonic()
                r: dict[str, Any]
                if cached:
                    r = {"errors": 0, "first_errors": []}
                else:
                    other.create_compute_nodes(hosts)
                    r = other.report("seed", inventory, threads=2)
                seed["Cyborg 17.0.0"] = {
                    "devices": other.device_count(),
                    "seconds": math.nan if cached else time.monotonic() - t0,
                    "errors": r["errors"],
                    "from_snapshot": cached,
                }
                if not cached and r["errors"] == 0:
                    other.snapshot(cache)
                log(f"Cyborg seeded: {seed['Cyborg 17.0.0']} {r['first_errors'][:1]}")
                systems.append(other)
            except Exception as err:  # the peer failing must not stop cyborg-lite's figures
                results["peer_error"] = f"{type(err).__name__}: {err}"
                log(f"peer failed: {traceback.format_exc()}")
        for s in systems:
            seed[s.name]["profiles_per_s"] = workloads.seed_profiles(s, PROFILES)
        results["seed"] = seed
        log(f"profiles seeded: {[(s.name, seed[s.name]['profiles_per_s']) for s in systems]}")
        log("workload 1: API reads")
        results["w1"] = workloads.api_reads(systems, plan, log)
        log("workload 2: scheduler cycle")
        results["w2"] = workloads.scheduler_cycle(systems, plan, log)
        log("workload 3: report ingestion")
        results["w3"] = ingestion(systems, inventory, hosts, plan)
        rss: dict[str, float] = {
            "cyborg-lite|api worker": max(procs.peak_rss_mb(p) for p in system.api_worker_pids()),
            "cyborg-lite|conductor": procs.peak_rss_mb(system.procs["conductor"].pid),
            "cyborg-lite|agent (1 host)": procs.peak_rss_mb(solo.pid),
            f"cyborg-lite|agent process ({HOSTS_A} simulated hosts)": procs.peak_rss_mb(
                system.agent_procs[-1].pid
            ),
        }
        for s in systems[1:]:
            rss[f"{s.name}|api worker"] = max(procs.peak_rss_mb(p) for p in s.api_worker_pids())
            rss[f"{s.name}|conductor"] = procs.peak_rss_mb(s.procs["conductor"].pid)
            rss[f"{s.name}|placement"] = max(
                [procs.peak_rss_mb(p) for p in procs.children(s.procs["placement"].pid)]
                or [math.nan]
            )
        results["rss_a"] = rss


def main() -> None:
    """Parse the arguments, run the suite, write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="a tiny plan, to check the suite")
    parser.add_argument("--only", default="a,b", help="phases: a (workloads 1-3), b (4-5)")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument(
        "--profile", action="store_true", help="py-spy records the conductor during the rollout"
    )
    parser.add_argument(
        "--render",
        metavar="WORK_DIR",
        help="write RESULTS.md again from a finished run's raw figures (its results.json), "
        "running nothing: for a change to the report's text",
    )
    args = parser.parse_args()
    if args.render:
        results: dict[str, Any] = json.loads((Path(args.render) / "results.json").read_text())
        quick = bool(results.get("quick"))
        Path(args.out).write_text(
            report.render(results, command="make bench-quick" if quick else "make bench")
        )
        log(f"wrote {args.out} from {args.render}")
        return
    plan = workloads.QUICK if args.quick else workloads.FULL
    if args.smoke:
        plan = workloads.SMOKE
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = HERE / ".work" / stamp
    work.mkdir(parents=True)
    if args.profile:
        global PROFILE_DIR
        PROFILE_DIR = work
    results = {"plan": plan.__dict__, "quick": args.quick, "started": stamp}
    t_start = time.monotonic()
    with_peer = not args.no_peer
    if with_peer:
        try:
            log("peer: checking its virtualenv")
            results["peer_install_seconds"] = peer.ensure_venv(work / "peer-install.log")
            results["peer_versions"] = peer.installed_versions()
        except Exception as err:  # report why, never invent figures
            results["peer_error"] = f"install failed: {err}"
            with_peer = False
    phases = args.only.split(",")
    # A phase that fails is reported as such; the other's figures are kept.
    runs: tuple[tuple[str, Callable[[], None]], ...] = (
        ("a", lambda: phase_a(work, plan, results, with_peer)),
        ("b", lambda: phase_b(work, plan, results)),
    )
    for name, run_phase in runs:
        if name not in phases:
            continue
        try:
            run_phase()
        except Exception as err:
            results[f"phase_{name}_error"] = f"{type(err).__name__}: {err}"
            log(f"phase {name} failed: {traceback.format_exc()}")
        workloads.write_json(work / "results.json", results)
    results["wall_seconds"] = time.monotonic() - t_start
    results["machine"] = machine()
    results["lite_versions"] = lite_versions()
    workloads.write_json(work / "results.json", results)
    text = report.render(results, command="make bench-quick" if args.quick else "make bench")
    Path(args.out).write_text(text)
    print(report.targets_text(results))
    log(f"wrote {args.out} (raw figures in {work})")


# Connections the broker needs beyond one per simulated host (conductor, API, each agent
# process's send pool and reply queue), and file descriptors it keeps for itself.
BROKER_FD_RESERVE = 400


def fleet_shape(plan: workloads.Plan, results: dict[str, Any]) -> tuple[int, int]:
    """(hosts, devices per host) for the rollout: the plan's, unless the broker cannot hold
    a connection per host; then fewer hosts with more devices each, the same total."""
    hosts, per_host = plan.rollout_hosts, plan.rollout_devices_per_host
    beams = procs.pids_named("beam.smp")
    limit = procs.open_files_limit(beams[0]) if beams else None
    if limit is not None and hosts + BROKER_FD_RESERVE > limit:
        total = hosts * per_host
        fitted = max(125, (limit - BROKER_FD_RESERVE) // 125 * 125)
        while total % fitted:
            fitted -= 125
        results["fleet_note"] = (
            f"RabbitMQ here may open {limit} files (its soft limit) and each simulated host "
            f"holds one AMQP connection: {hosts} hosts do not fit, so the {total:,} devices sit "
            f"on {fitted} hosts x {total // fitted} devices."
        )
        log(results["fleet_note"])
        return fitted, total // fitted
    return hosts, per_host


def phase_b(work: Path, plan: workloads.Plan, results: dict[str, Any]) -> None:
    """Workloads 4 and 5 on cyborg-lite: paging at 10k and 100k devices, the rollout."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(procs.rabbit_vhost("bench_fleet"))
        system = lite.Lite(work / "lite-b", url, workers=WORKERS, threads=THREADS)
        stack.callback(system.stop)
        system.start()
        hosts, per_host = fleet_shape(plan, results)
        total = hosts * per_host
        t0 = time.monotonic()
        per_process = 125
        system.start_agents(hosts, per_process, "fleet", mix=f"nvidia-h100:{per_host}")
        system.wait_devices(total, timeout=600)
        results["fleet_seed"] = {
            "devices": total,
            "hosts": hosts,
            "seconds": time.monotonic() - t0,
            "agent_processes": len(system.agent_procs),
        }
        log(f"fleet seeded: {results['fleet_seed']}")
        results["w4_10k"] = [workloads.paging(system, plan.paging_pages) for _ in range(plan.runs)]
        log(f"paging 10k: {results['w4_10k']}")
        try:
            results["w5"] = rollout(system, plan, total)
        except Exception as err:  # report it: the rollout may not work end to end yet
            results["w5_error"] = f"{type(err).__name__}: {err}"
            log(f"rollout failed: {traceback.format_exc()}")
        results["rss_b"] = {
            "cyborg-lite|conductor (rollout)": procs.peak_rss_mb(system.procs["conductor"].pid),
            f"cyborg-lite|agent process ({per_process} simulated hosts, rollout)": max(
                procs.peak_rss_mb(p.pid) for p in system.agent_procs
            ),
            "cyborg-lite|api worker (paging)": max(
                procs.peak_rss_mb(p) for p in system.api_worker_pids()
            ),
        }
        system.stop_agents()
        t0 = time.monotonic()
        added = seed_sql(system, plan.big_devices)
        results["big_seed"] = {
            "devices": system.device_count(),
            "seconds": time.monotonic() - t0,
            "added": added,
        }
        log(f"100k seeded by SQL: {results['big_seed']}")
        results["w4_100k"] = [workloads.paging(system, plan.paging_pages) for _ in range(plan.runs)]
        log(f"paging 100k: {results['w4_100k']}")
        results["rss_b"]["cyborg-lite|api worker (paging)"] = max(
            procs.peak_rss_mb(p) for p in system.api_worker_pids()
        )


def seed_sql(system: lite.Lite, target: int) -> int:
    """Copy device rows (new uuids, hosts ``clone-N``) straight into SQLite up to ``target``.

    Reporting 100,000 devices through agents takes minutes on two cores; paging reads only
    the devices table (and the page's hosts), so copies of real rows are a fair stand-in.
    """
    cols = [r[1] for r in system.sql("PRAGMA table_info(devices)") if r[1] != "id"]
    have = system.device_count()
    rounds = 0
    while have < target and rounds < 20:
        n = min(have, target - have)
        select = []
        for c in cols:
            if c == "uuid":
                select.append(
                    "lower(substr(h,1,8)||'-'||substr(h,9,4)||'-4'||substr(h,14,3)||'-a'||"
                    "substr(h,18,3)||'-'||substr(h,21,12))"
                )
            elif c == "hostname":
                select.append(f"'clone{rounds}-' || hostname")
            else:
                select.append(c)
        sql = (
            f"INSERT INTO devices ({', '.join(cols)}) SELECT {', '.join(select)} FROM "  # noqa: S608
            f"(SELECT *, hex(randomblob(16)) AS h FROM devices ORDER BY id LIMIT {n})"
        )
        import sqlite3

        with sqlite3.connect(system.db_path, timeout=60) as conn:
            conn.execute(sql)
        have = system.device_count()
        rounds += 1
    return have


SPY_FLAGS = ("-f", "speedscope", "-r", "50", "--nonblocking", "--gil")
PROFILE_DIR: Path | None = None  # --profile: py-spy records the conductor during the rollout


def _profiler(pid: int, out: Path) -> contextlib.AbstractContextManager[Any]:
    """py-spy recording ``pid`` into ``out`` (a speedscope file) while the block runs."""
    import shutil
    import subprocess

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    @contextlib.contextmanager
    def recording() -> Any:
        proc = subprocess.Popen(
            # Non-blocking: pausing a process of a hundred threads 50 times a second slowed
            # the conductor down fourfold and made the profile describe that instead.
            # --gil: only the thread holding the GIL, i.e. where the CPU time goes.
            [spy, "record", "-p", str(pid), "-o", str(out), *SPY_FLAGS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield proc
        finally:
            proc.send_signal(2)  # SIGINT: py-spy writes its file and exits
            proc.wait(timeout=60)

    return recording()


def rollout(system: lite.Lite, plan: workloads.Plan, total: int) -> dict[str, Any]:
    """Workload 5: one rollout of every H100 of the fleet, ``max_in_flight`` 1,000."""
    image = workloads.upload_image(system, "96.00.99.00.02")
    pid = system.procs["conductor"].pid
    with contextlib.ExitStack() as stack:
        if PROFILE_DIR is not None:
            stack.enter_context(_profiler(pid, PROFILE_DIR / "conductor-rollout.speedscope.json"))
            agents = system.agent_procs[0].pid
            stack.enter_context(_profiler(agents, PROFILE_DIR / "agents-rollout.speedscope.json"))
            api = system.api_worker_pids()[0]
            stack.enter_context(_profiler(api, PROFILE_DIR / "api-rollout.speedscope.json"))
        return measure_rollout(system, image, pid, total)


def measure_rollout(system: lite.Lite, image: str, pid: int, total: int) -> dict[str, Any]:
    """The rollout of every H100 of the fleet to ``image``: wall time, CPU, messages."""
    msgs0 = counted.read(str(system.msg_count_file))
    # Where else the CPU goes: the agents' processes, the API's workers, the broker.
    others = {
        "agents": [p.pid for p in system.agent_procs],
        "api": system.api_worker_pids(),
        "rabbitmq": procs.pids_named("beam.smp"),
    }
    others0 = {k: procs.cpu_total(v) for k, v in others.items()}
    cpu0 = procs.cpu_seconds(pid)
    t0 = time.monotonic()
    uuid = workloads.start_rollout(system, image, "NVIDIA H100 80GB HBM3", 1000)
    state: dict[str, Any] = {}
    while time.monotonic() - t0 < 900:  # bounded: a stuck rollout is reported as such
        state = workloads.rollout_state(system, uuid)
        if state.get("state") in ("completed", "failed", "aborted", "halted"):
            break
        time.sleep(0.5)
    wall = time.monotonic() - t0
    time.sleep(1.0)  # let the message counter write its last figure
    cpu = procs.cpu_seconds(pid) - cpu0
    other_cpu = {k: procs.cpu_total(v) - others0[k] for k, v in others.items()}
    msgs1 = counted.read(str(system.msg_count_file))
    jobs = total
    messages = (msgs1["published"] - msgs0["published"]) + (msgs1["delivered"] - msgs0["delivered"])
    return {
        "state": state.get("state"),
        "document": state,
        "wall_s": wall,
        "jobs": jobs,
        "jobs_per_s": jobs / wall,
        "messages": messages,
        "messages_per_job": messages / jobs,
        "conductor_cpu_s": cpu,
        "cpu_ms_per_job": 1000 * cpu / jobs,
        **{f"{k}_cpu_ms_per_job": 1000 * v / jobs for k, v in other_cpu.items()},
    }


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    import os

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "rabbitmq": procs.rabbit_version(),
    }


def lite_versions() -> dict[str, str]:
    """cyborg-lite and its main libraries."""
    from importlib import metadata

    out = {}
    for dist in ("cyborg-lite", "falcon", "gunicorn", "SQLAlchemy", "oslo.messaging"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


if __name__ == "__main__":
    main()
