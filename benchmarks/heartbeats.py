"""Issue 18's heartbeat figure: how many heartbeats per second one conductor absorbs over
RabbitMQ when agents send them in batches (conductor RPC 1.7), and its CPU per heartbeat.

A fresh SQLite (or, with ``--postgres``, PostgreSQL) database holds ``--hosts`` hosts with a
known digest; one ``cyborg-lite-conductor`` process serves a fresh RabbitMQ virtual host. This
process plays the agent processes: each round it casts every host's heartbeat in batches of
``--batch`` (as ``agent.heartbeats`` does) and waits until SQL shows the round's agent
version on every host, so the time is the conductor's absorption, not the sending. The
conductor's CPU is read from /proc. The per-host 1.0 ``heartbeat`` call, what agents before
1.7 send, is timed the same way for comparison (``--legacy`` hosts, one call each, 8 threads).

    python -m benchmarks.heartbeats [--hosts 10000] [--rounds 5] [--batch 500] [--postgres]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import procs
from cyborg_lite import rpc
from cyborg_lite.conductor import rpcapi
from cyborg_lite.conf import make_conf
from cyborg_lite.db import migration, models
from cyborg_lite.db.engine import Database

HERE = Path(__file__).resolve().parent


@contextlib.contextmanager
def database(work: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{work / 'hb.sqlite'}"
        return
    name = f"cyl_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def seed(url: str, hosts: list[str]) -> None:
    db = Database(url)
    migration.upgrade(db.engine)
    with db.transaction() as s:
        s.execute(
            sa.insert(models.Host),
            [
                {
                    "hostname": h,
                    "state": "up",
                    "report_digest": "d",
                    "last_heartbeat": models.utcnow(),
                }
                for h in hosts
            ],
        )
    db.dispose()


def at_version(engine: sa.Engine, version: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(models.Host)
                .where(models.Host.agent_version == version)
            ).scalar_one()
        )


def wait_all(engine: sa.Engine, version: str, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while at_version(engine, version) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"heartbeats of {version} not absorbed in {timeout}s")
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--legacy", type=int, default=2_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    work = HERE / ".work" / f"heartbeats-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    hosts = [f"hb-{i:06d}" for i in range(args.hosts)]
    out: dict[str, Any] = {"hosts": args.hosts, "batch": args.batch, "postgres": args.postgres}
    with procs.rabbit_vhost("hb") as bus, database(work, args.postgres) as url:
        seed(url, hosts)
        conf_path = work / "conductor.conf"
        conf_path.write_text(
            f"[DEFAULT]\ntransport_url = {bus}\nstate_path = {work}\nhost = bench-conductor\n"
            f"[database]\nconnection = {url}\n[conductor]\nliveness_interval = 3600\n"
        )
        conductor = procs.Proc(
            "conductor",
            [str(HERE.parent / ".venv/bin/cyborg-lite-conductor"), "--config-file", str(conf_path)],
            work / "conductor.log",
        )
        engine = sa.create_engine(url)
        conf = make_conf([], default_config_files=[])
        conf.set_override("transport_url", bus)
        transport = rpc.get_transport(conf)
        client = rpcapi.ConductorAPI(transport, timeout=60)
        ctx = rpc.admin_context()
        # A call sent before the conductor made its queue is lost: warm up with short calls.
        probe = rpcapi.ConductorAPI(transport, timeout=3)
        try:
            # Warm up: the first batch as a call (as agents send it), which waits for the
            # conductor to listen.
            deadline = time.monotonic() + 90
            while True:
                try:
                    probe.heartbeats(
                        ctx, [{"host": hosts[0], "agent_version": "w", "digest": "d"}], wait=True
                    )
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            cpu0, t0 = procs.cpu_seconds(conductor.pid), time.perf_counter()
            for r in range(args.rounds):
                version = f"r{r}"
                for start in range(0, len(hosts), args.batch):
                    beats = [
                        {"host": h, "agent_version": version, "digest": "d"}
                        for h in hosts[start : start + args.batch]
                    ]
                    client.heartbeats(ctx, beats)
                wait_all(engine, version, len(hosts))
            elapsed = time.perf_counter() - t0
            cpu = procs.cpu_seconds(conductor.pid) - cpu0
            beats_total = args.hosts * args.rounds
            out["batched"] = {
                "heartbeats_per_s": round(beats_total / elapsed, 1),
                "conductor_cpu_ms_per_heartbeat": round(cpu * 1000 / beats_total, 4),
                "seconds": round(elapsed, 2),
            }
            legacy = hosts[: args.legacy]
            cpu0, t0 = procs.cpu_seconds(conductor.pid), time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda h: client.heartbeat(ctx, h, "legacy", "d"), legacy))
            elapsed = time.perf_counter() - t0
            cpu = procs.cpu_seconds(conductor.pid) - cpu0
            out["per_host_1_0"] = {
                "heartbeats_per_s": round(len(legacy) / elapsed, 1),
                "conductor_cpu_ms_per_heartbeat": round(cpu * 1000 / len(legacy), 3),
                "seconds": round(elapsed, 2),
            }
        finally:
            transport.cleanup()
            conductor.stop()
            engine.dispose()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
