"""Issue 16's performance section: what usage costs the conductor, and how fast the API reads it.

1. Ingestion: 500 simulated hosts x 20 devices (four ``cyborg-lite-agent --simulated-hosts``
   processes of 125 hosts, H100s busy, MI300Xs and U280s idle) sample every
   ``--sample-interval`` seconds and report every ``--report-interval`` (shorter than the
   defaults of 10 s and 60 s, to get many reports in a short run). Over a window the conductor's
   CPU seconds (/proc) and the host reports it stored (distinct (host, interval) in
   ``usage_rollups``) give its CPU per host report; the agents are then restarted with usage off
   and the same window measures the heartbeats and inventory reports the conductor serves
   anyway, which are subtracted. Extrapolated to the default intervals: 500 reports per 60 s.
2. API: the agents stopped, the window's rows replaced by 48 hours of rollups for every device
   written in SQL (``--rollup-step`` seconds, 60 as the agents' default, plus the hourly rows
   the housekeeping thread would have made), each read is timed at concurrency 1 against the
   real gunicorn API: ``GET /v2/usage``, ``GET /v2/devices?idle_for=``, a device's series,
   ``GET /metrics``.

    python -m benchmarks.usage [--out FILE] [--only ingestion|api] [--postgres]

Prints its figures as JSON; processes' logs stay under ``benchmarks/.work/usage-*``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sqlite3
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmarks import lite, loadgen, procs, run, stats, workloads

HERE = Path(__file__).resolve().parent
HOSTS, PER_PROCESS = 500, 125
MIX = "nvidia-h100:12,amd-mi300x:4,xilinx-u280:4"
PER_HOST = 20
# H100s busy; MI300Xs idle; U280s show a load only with a bitstream (none here): idle.
USAGE = "nvidia-h100:85"
DEFAULT_REPORT_INTERVAL = 60.0  # [agent] usage_report_interval's default
HEADERS_26 = {**workloads.HEADERS, "OpenStack-API-Version": "accelerator 2.6"}
IDLE_FOR = 60
# Seconds between two samples in the seeded rows: [agent] usage_interval's default.
SAMPLE = 10


@dataclass(frozen=True)
class Window:
    """What one measured window saw."""

    seconds: float
    conductor_cpu_s: float
    agents_cpu_s: float
    broker_cpu_s: float
    host_reports: int
    load_before: str
    load_after: str


@dataclass(frozen=True)
class Cost:
    """A window with usage on against one with it off, per host report and extrapolated."""

    reports_per_s: float
    conductor_ms_per_report: float  # the usage window's CPU, all of it, per report
    conductor_ms_per_report_net: float  # less the usage-off window's CPU rate
    agents_ms_per_report_net: float
    broker_ms_per_report_net: float
    core_share_pct: float  # net, at ``hosts`` reports per default interval
    core_share_pct_gross: float


def cost(on: Window, off: Window | None, hosts: int, interval: float) -> Cost:
    """CPU per host report over ``on``, less ``off``'s CPU rate over the same length when
    there is one, and the share of one core ``hosts`` reports every ``interval`` s take."""
    nan = float("nan")
    if on.host_reports <= 0 or on.seconds <= 0:
        return Cost(nan, nan, nan, nan, nan, nan, nan)

    def net(cpu_on: float, cpu_off: float) -> float:
        if off is None or off.seconds <= 0:
            return cpu_on / on.host_reports
        return (cpu_on - cpu_off * on.seconds / off.seconds) / on.host_reports

    gross = on.conductor_cpu_s / on.host_reports
    cond = net(on.conductor_cpu_s, off.conductor_cpu_s if off else 0.0)
    rate = hosts / interval
    return Cost(
        reports_per_s=on.host_reports / on.seconds,
        conductor_ms_per_report=1000 * gross,
        conductor_ms_per_report_net=1000 * cond,
        agents_ms_per_report_net=1000 * net(on.agents_cpu_s, off.agents_cpu_s if off else 0.0),
        broker_ms_per_report_net=1000 * net(on.broker_cpu_s, off.broker_cpu_s if off else 0.0),
        core_share_pct=100 * cond * rate,
        core_share_pct_gross=100 * gross * rate,
    )


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as uptime prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def host_reports(system: lite.Lite) -> int:
    """Host reports stored so far: distinct (host, interval start) among full-resolution rows."""
    return int(
        system.sql(
            "SELECT count(*) FROM (SELECT DISTINCT d.hostname, r.start FROM usage_rollups r "
            "JOIN devices d ON d.id = r.device_id WHERE r.resolution_seconds < 3600) AS hr"
        )[0][0]
    )


def _wait_reports(system: lite.Lite, wanted: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if host_reports(system) >= wanted:
            return time.monotonic() - t0
        time.sleep(2.0)
    raise RuntimeError(f"fewer than {wanted} host reports after {timeout}s")


def measure_window(system: lite.Lite, seconds: float) -> Window:
    """CPU of the conductor, the agents and the broker, and host reports, over ``seconds``."""
    conductor = system.procs["conductor"].pid
    agents = [p.pid for p in system.agent_procs]
    broker = procs.pids_named("beam.smp")
    load_before = loadavg()
    reports0 = host_reports(system)
    c0, a0, b0 = procs.cpu_seconds(conductor), procs.cpu_total(agents), procs.cpu_total(broker)
    t0 = time.monotonic()
    time.sleep(seconds)
    c1, a1, b1 = procs.cpu_seconds(conductor), procs.cpu_total(agents), procs.cpu_total(broker)
    took = time.monotonic() - t0
    reports1 = host_reports(system)
    return Window(took, c1 - c0, a1 - a0, b1 - b0, reports1 - reports0, load_before, loadavg())


def _agent_conf(sample: float, report: int) -> str:
    return f"[agent]\nusage_interval = {sample}\nusage_report_interval = {report}\n"


def ingestion(system: lite.Lite, args: argparse.Namespace) -> dict[str, Any]:
    """Seed the fleet with usage on, measure; restart the agents with usage off, measure."""
    system.add_config("usage-agent.conf", _agent_conf(args.sample_interval, args.report_interval))
    system.start_agents(HOSTS, PER_PROCESS, "use", mix=MIX)
    seeded = system.wait_devices(HOSTS * PER_HOST, timeout=900)
    # Two rounds of every host's reports before measuring: the start-up burst is over.
    _wait_reports(system, 2 * HOSTS, timeout=600)
    time.sleep(args.report_interval)
    on = measure_window(system, args.window)
    out: dict[str, Any] = {"seed_s": seeded, "usage_on": asdict(on)}
    off = None
    if not args.no_baseline:
        system.stop_agents()
        system.add_config("usage-agent.conf", _agent_conf(0, args.report_interval))
        system.start_agents(HOSTS, PER_PROCESS, "use", mix=MIX)
        time.sleep(args.settle)  # the restarted agents' inventory reports
        off = measure_window(system, args.window)
        out["usage_off"] = asdict(off)
    out["cost"] = asdict(cost(on, off, HOSTS, DEFAULT_REPORT_INTERVAL))
    return out


# --- the API ---------------------------------------------------------------------------------


def _stamp(at: dt.datetime) -> str:
    """SQLAlchemy's DATETIME text on SQLite."""
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def seed_rollups(system: lite.Lite, hours: int, step: int, budget_s: float) -> dict[str, Any]:
    """Replace every rollup with ``hours`` of ``step``-second rows per device ending at the
    last whole step, plus one hourly row per completed hour, device by device in chunks until
    ``budget_s`` is spent. H100s (the busy model) at 80-89 %, the rest idle."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    end = now - dt.timedelta(seconds=now.timestamp() % step)
    first = end - dt.timedelta(hours=hours)
    steps = hours * 3600 // step
    hour0 = first.replace(minute=0, second=0)
    ids = [int(r[0]) for r in system.sql("SELECT id FROM devices ORDER BY id")]
    cols = (
        "device_id, resolution_seconds, start, samples, utilization_percent_mean, "
        "utilization_percent_max, memory_used_bytes, power_watts, temperature_celsius, "
        "processes, busy"
    )
    busy = "d.model LIKE '%h100%'"
    figures = (
        f"CASE WHEN {busy} THEN 80 + (k.i % 10) ELSE 0 END, "
        f"CASE WHEN {busy} THEN 90 ELSE 0 END, "
        f"CASE WHEN {busy} THEN 60000000000 ELSE 0 END, "
        f"CASE WHEN {busy} THEN 600 ELSE 90 END, CASE WHEN {busy} THEN 70 ELSE 35 END, "
        f"CASE WHEN {busy} THEN 1 ELSE 0 END, CASE WHEN {busy} THEN 1 ELSE 0 END"
    )
    insert = (
        "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ? - 1) "  # noqa: S608
        f"INSERT INTO usage_rollups ({cols}) "
        "SELECT d.id, ?, strftime('%Y-%m-%d %H:%M:%S.000000', ?, '+' || (k.i * ?) || "
        f"' seconds'), ?, {figures} FROM devices d, k WHERE d.id >= ? AND d.id <= ? "
        "ORDER BY d.id, k.i"
    )
    t0 = time.monotonic()
    done = 0
    with sqlite3.connect(system.db_path, timeout=600) as conn:
        conn.execute("DELETE FROM usage_rollups")
        conn.commit()
        chunk = 250
        for i in range(0, len(ids), chunk):
            if time.monotonic() - t0 > budget_s:
                break
            lo, hi = ids[i], ids[min(i + chunk, len(ids)) - 1]
            conn.execute(insert, (steps, step, _stamp(first), step, step // SAMPLE, lo, hi))
            conn.execute(insert, (hours, 3600, _stamp(hour0), 3600, 3600 // SAMPLE, lo, hi))
            conn.commit()
            done = min(i + chunk, len(ids))
        rows = int(conn.execute("SELECT count(*) FROM usage_rollups").fetchone()[0])
    return {
        "devices": len(ids),
        "devices_with_history": done,
        "hours": hours,
        "step_s": step,
        "rows": rows,
        "from": first.isoformat(),
        "until": end.isoformat(),
        "seconds": time.monotonic() - t0,
        "db_mb": system.db_path.stat().st_size / 2**20,
    }


def _series_op(uuids: list[str], query: str) -> loadgen.Operation:
    """A device's series, the next device at each call."""

    async def op(conn: loadgen.Connection, _index: int, seq: int) -> None:
        path = f"/v2/devices/{uuids[seq % len(uuids)]}/usage{query}"
        await loadgen.call(conn, "GET", path)

    return op


def _time(system: lite.Lite, op: loadgen.Operation, args: argparse.Namespace) -> dict[str, Any]:
    load_before = loadavg()
    result = loadgen.run(
        system.base_url,
        HEADERS_26,
        op,
        concurrency=1,
        seconds=args.api_seconds,
        max_ops=args.api_requests,
        warmup=1.0,
    )
    return {
        "requests": len(result.latencies),
        "errors": result.errors,
        "first_error": result.first_error,
        "p50_ms": 1000 * stats.percentile(result.latencies, 50),
        "p99_ms": 1000 * stats.percentile(result.latencies, 99),
        "max_ms": 1000 * max(result.latencies, default=float("nan")),
        "load_before": load_before,
        "load_after": loadavg(),
    }


def _shape(system: lite.Lite, path: str) -> dict[str, Any]:
    """Status, size and item count of one answer, to say what was timed."""
    resp = loadgen.one_shot(system.base_url, HEADERS_26, "GET", path)
    shape: dict[str, Any] = {"status": resp.status, "bytes": len(resp.body)}
    if resp.status == 200 and resp.headers.get("content-type", "").startswith("application/json"):
        body = resp.json()
        for key in ("devices", "samples", "by_model", "by_host", "allocated_idle"):
            if isinstance(body.get(key), list):
                shape[key] = len(body[key])
    elif resp.status == 200:
        shape["lines"] = resp.body.count(b"\n")
    return shape


def api(system: lite.Lite, args: argparse.Namespace) -> dict[str, Any]:
    """Seed 48 h of rollups with the agents stopped, then time each read."""
    routes = (REPO_ROUTES).read_text()
    if "/v2/usage" not in routes:
        return {"not_measured": "route missing"}
    # The conductor goes too: its housekeeping would roll up and prune the seeded hours while
    # they are written (the one SQLite writer), and the reads need only the API.
    system.stop_agents()
    system.procs["conductor"].stop()
    seeded = seed_rollups(system, args.hours, args.rollup_step, args.seed_budget)
    uuids = [
        str(r[0])
        for r in system.sql(
            "SELECT d.uuid FROM devices d JOIN usage_rollups r ON r.device_id = d.id "
            "AND r.resolution_seconds = 3600 GROUP BY d.uuid ORDER BY min(d.id) LIMIT 200"
        )
    ]
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=args.hours)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    reads: dict[str, tuple[str, loadgen.Operation]] = {
        "usage": ("/v2/usage", loadgen.get("/v2/usage")),
        "idle_for": (
            f"/v2/devices?idle_for={IDLE_FOR}",
            loadgen.get(f"/v2/devices?idle_for={IDLE_FOR}"),
        ),
        "idle_for_limit_1000": (
            f"/v2/devices?idle_for={IDLE_FOR}&limit=1000",
            loadgen.get(f"/v2/devices?idle_for={IDLE_FOR}&limit=1000"),
        ),
        "series_default": (f"/v2/devices/{uuids[0]}/usage", _series_op(uuids, "")),
        "series_48h": (
            f"/v2/devices/{uuids[0]}/usage?since={quote(since)}",
            _series_op(uuids, f"?since={quote(since)}"),
        ),
        "series_48h_hourly": (
            f"/v2/devices/{uuids[0]}/usage?since={quote(since)}&resolution=3600",
            _series_op(uuids, f"?since={quote(since)}&resolution=3600"),
        ),
        "metrics": ("/metrics", loadgen.get("/metrics")),
    }
    out: dict[str, Any] = {"seeded": seeded, "reads": {}}
    for name, (path, op) in reads.items():
        out["reads"][name] = {"path": path, **_shape(system, path), **_time(system, op, args)}
    return out


REPO_ROUTES = lite.REPO / "cyborg_lite" / "api" / "routes.py"
PG = "postgres@127.0.0.1:5432"


class PostgresLite(lite.Lite):
    """Lite on a database of its own on the local PostgreSQL (trust auth), dropped after."""

    def __init__(self, work: Path, transport_url: str, *, workers: int, threads: int) -> None:
        super().__init__(work, transport_url, workers=workers, threads=threads)
        self.database = f"bench_usage_{uuid.uuid4().hex[:10]}"
        self.add_config(
            "usage-db.conf",
            f"[database]\nconnection = postgresql+psycopg2://{PG}/{self.database}\n",
        )

    def _psql(self, statement: str) -> None:
        procs.run(["psql", f"postgresql://{PG}/postgres", "-qc", statement], timeout=120)

    def start(self) -> None:
        """Create the database, then as Lite."""
        self._psql(f"CREATE DATABASE {self.database}")
        super().start()

    def stop(self) -> None:
        """As Lite, then drop the database."""
        super().stop()
        with contextlib.suppress(RuntimeError):
            self._psql(f"DROP DATABASE IF EXISTS {self.database}")

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read on the PostgreSQL database."""
        import psycopg2  # type: ignore[import-untyped]

        conn = psycopg2.connect(f"postgresql://{PG}/{self.database}")
        try:
            with conn.cursor() as cur:
                cur.execute(statement.replace("?", "%s"), params)
                return list(cur.fetchall())
        finally:
            conn.close()


def measure(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Both parts on one deployment: the API part reads the fleet the ingestion part seeded."""
    out: dict[str, Any] = {
        "machine": run.machine(),
        "load_at_start": loadavg(),
        "database": "postgresql" if args.postgres else "sqlite",
    }
    with contextlib.ExitStack() as stack:
        transport = stack.enter_context(procs.rabbit_vhost("bench_usage"))
        kind = PostgresLite if args.postgres else lite.Lite
        system = kind(work / "lite", transport, workers=run.WORKERS, threads=run.THREADS)
        system.add_config("usage-sim.conf", f"[simulated]\nusage = {USAGE}\n")
        stack.callback(system.stop)
        system.start()
        if args.only in (None, "ingestion"):
            out["ingestion"] = ingestion(system, args)
            out["intervals"] = {
                "sample_s": args.sample_interval,
                "report_s": args.report_interval,
                "window_s": args.window,
            }
            # Kept now: the API part takes minutes more.
            (work / "ingestion.json").write_text(json.dumps(out, indent=2, sort_keys=True))
        else:
            system.add_config("usage-agent.conf", _agent_conf(10, 60))
            system.start_agents(HOSTS, PER_PROCESS, "use", mix=MIX)
            out["seed_s"] = system.wait_devices(HOSTS * PER_HOST, timeout=900)
            time.sleep(IDLE_FOR + 15)  # idle devices idle long enough for idle_for
        if args.only in (None, "api"):
            out["api"] = api(system, args)
    return out


def main() -> None:
    """Run, print and keep the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", help="also write the figures to this JSON file")
    parser.add_argument("--only", choices=("ingestion", "api"))
    parser.add_argument("--sample-interval", type=float, default=2.0)
    parser.add_argument("--report-interval", type=int, default=10)
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--settle", type=float, default=40.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the usage-off window")
    parser.add_argument("--hours", type=int, default=48)
    parser.add_argument("--rollup-step", type=int, default=60)
    parser.add_argument("--seed-budget", type=float, default=600.0)
    parser.add_argument("--api-seconds", type=float, default=15.0)
    parser.add_argument("--api-requests", type=int, default=300)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"run on a new database on {PG} (dropped after); the ingestion part only",
    )
    args = parser.parse_args()
    if args.postgres:
        args.only = "ingestion"
    work = HERE / ".work" / f"usage-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    figures = measure(work, args)
    text = json.dumps(figures, indent=2, sort_keys=True)
    print(text)
    (work / "figures.json").write_text(text + "\n")
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
