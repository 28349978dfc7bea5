"""OpenStack Cyborg 17.0.0 as the benchmark peer, run as ``cyborg-peer.md`` describes.

Its own virtualenv (``benchmarks/.peer-venv``, made on first use); Placement 16.0.0 and
Cyborg's API under uWSGI (``--http11-socket`` keeps connections alive); a paste pipeline
without ``authtoken`` (identity comes from the ``X-*`` headers); ``cyborg-dbsync
create_schema`` on SQLite; ``cyborg-conductor`` on its own RabbitMQ virtual host; a minimal
Nova endpoint for bind; the compute-node providers created in Placement before any report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import procs

HERE = Path(__file__).resolve().parent
VENV = HERE / ".peer-venv"
PY = VENV / "bin" / "python"
PEER_SIDE = HERE / "peer_side"
PINS = ["openstack-cyborg==17.0.0", "openstack-placement==16.0.0", "uwsgi"]


def ensure_venv(log: Path) -> float:
    """Create the peer's virtualenv and install the pins unless already there; seconds spent."""
    t0 = time.monotonic()
    if (VENV / "bin" / "cyborg-conductor").exists() and (VENV / "bin" / "uwsgi").exists():
        return 0.0
    with open(log, "ab") as out:
        subprocess.run(
            [shutil.which("python3.11") or sys.executable, "-m", "venv", str(VENV)],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
        )
        subprocess.run(
            [str(PY), "-m", "pip", "install", "-q", *PINS],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=1200,
        )
    return time.monotonic() - t0


def installed_versions() -> dict[str, str]:
    """Versions in the peer's virtualenv."""
    out = subprocess.run(
        [str(PY), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    wanted = {"openstack-cyborg", "openstack-placement", "uWSGI", "oslo.messaging", "SQLAlchemy"}
    return {p["name"]: p["version"] for p in json.loads(out) if p["name"] in wanted}


class Peer:
    """One Cyborg deployment (with Placement and a fake Nova) under ``work``."""

    name = "Cyborg 17.0.0"

    def __init__(self, work: Path, transport_url: str, *, workers: int, threads: int) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.transport_url = transport_url
        self.workers, self.threads = workers, threads
        self.port = procs.free_port()
        self.placement_port = procs.free_port()
        self.nova_port = procs.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.placement_url = f"http://127.0.0.1:{self.placement_port}"
        self.db_path = work / "cyborg.sqlite"
        self.conf = work / "cyborg.conf"
        self.procs: dict[str, procs.Proc] = {}
        self._write_conf()

    def _write_conf(self) -> None:
        placement_dir = self.work / "placement"
        placement_dir.mkdir(exist_ok=True)
        (placement_dir / "placement.conf").write_text(
            f"""[api]
auth_strategy = noauth2
[placement_database]
connection = sqlite:///{self.work / "placement.sqlite"}
sync_on_startup = true
"""
        )
        paste = (VENV / "etc" / "cyborg" / "api-paste.ini").read_text()
        # No keystone here: drop authtoken; identity then comes from the X-* headers.
        paste = paste.replace(" authtoken ", " ")
        (self.work / "api-paste.ini").write_text(paste)
        self.conf.write_text(
            f"""[DEFAULT]
transport_url = {self.transport_url}
# Cyborg's services default to the "cyborg" exchange in code; a client outside them (the
# reporter) would use oslo.messaging's "openstack" unless the file says it.
control_exchange = cyborg
# Seeding on a loaded two-core machine: a report with Placement calls can take over a minute.
rpc_response_timeout = 600
host = peer-conductor
debug = {"true" if os.environ.get("BENCH_PEER_DEBUG") else "false"}
[api]
api_paste_config = {self.work / "api-paste.ini"}
[database]
connection = sqlite:///{self.db_path}
[placement]
auth_type = admin_token
endpoint = {self.placement_url}
token = admin
[nova]
auth_type = admin_token
endpoint = http://127.0.0.1:{self.nova_port}/v2.1
token = admin
[agent]
resource_provider_name = peer-agent
enabled_drivers = fake_driver
[oslo_messaging_notifications]
driver = noop
"""
        )

    def _uwsgi(self, name: str, port: int, module: str, workers: int, threads: int) -> list[str]:
        return [
            str(VENV / "bin" / "uwsgi"),
            "--http11-socket",
            f"127.0.0.1:{port}",
            "--pythonpath",
            str(PEER_SIDE),
            "--module",
            module,
            "--processes",
            str(workers),
            "--threads",
            str(threads),
            "--master",
            "--lazy-apps",
            "--die-on-term",
            "--need-app",
            "--disable-logging",
            "--procname-prefix",
            f"{name}-",
            "--listen",
            "128",
        ]

    def start(self, restore: Path | None = None) -> None:
        """Schema (or the databases of a seeded snapshot), Placement, fake Nova, conductor, API."""
        if restore is not None:
            for name in ("cyborg.sqlite", "placement.sqlite"):
                shutil.copyfile(restore / name, self.work / name)
        else:
            procs.run(
                [
                    str(VENV / "bin" / "cyborg-dbsync"),
                    "--config-file",
                    str(self.conf),
                    "create_schema",
                ],
                timeout=180,
            )
        self.procs["placement"] = procs.Proc(
            "placement",
            # One thread: on SQLite, Placement answers concurrent writes with a 500
            # ("database is locked").
            self._uwsgi("placement", self.placement_port, "placement.wsgi.api:application", 1, 1),
            self.work / "placement.log",
            env={"OS_PLACEMENT_CONFIG_DIR": str(self.work / "placement")},
        )
        self.procs["nova"] = procs.Proc(
            "fake nova",
            [sys.executable, "-m", "benchmarks.fake_nova", str(self.nova_port)],
            self.work / "nova.log",
            cwd=HERE.parent,
        )
        procs.wait_port(self.procs["placement"], self.placement_port)
        procs.wait_port(self.procs["nova"], self.nova_port)
        self.procs["conductor"] = procs.Proc(
            "cyborg-conductor",
            [str(VENV / "bin" / "cyborg-conductor"), "--config-file", str(self.conf)],
            self.work / "conductor.log",
        )
        self.procs["api"] = procs.Proc(
            "cyborg-api",
            self._uwsgi(
                "cyborg-api", self.port, "cyborg_wsgi:application", self.workers, self.threads
            ),
            self.work / "api.log",
            env={"CYBORG_BENCH_CONF": str(self.conf)},
        )
        procs.wait_port(self.procs["api"], self.port)
        time.sleep(2.0)  # let the conductor consume from its queue before the first call

    def create_compute_nodes(self, hosts: list[str]) -> None:
        """The compute-node providers Cyborg's conductor looks up for each host's report."""
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.placement_port, timeout=30)
        headers = {
            "x-auth-token": "admin",
            "content-type": "application/json",
            "openstack-api-version": "placement 1.20",
        }
        for host in hosts:
            conn.request("POST", "/resource_providers", json.dumps({"name": host}), headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status not in (200, 409):
                raise RuntimeError(f"placement: creating provider {host}: {resp.status}")
        conn.close()

    def report(
        self,
        mode: str,
        inventory: Path,
        *,
        threads: int,
        seconds: float = 10.0,
        max_calls: int = 100000,
    ) -> dict[str, Any]:
        """Run the peer-side reporter (``peer_side/cyborg_report.py``) and return its result."""
        out = procs.run(
            [
                str(PY),
                str(PEER_SIDE / "cyborg_report.py"),
                mode,
                "--config-file",
                str(self.conf),
                "--inventory",
                str(inventory),
                "--threads",
                str(threads),
                "--seconds",
                str(seconds),
                "--max-calls",
                str(max_calls),
            ],
            timeout=max(600.0, seconds * 3),
        )
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def snapshot(self, folder: Path) -> None:
        """Copy both databases (SQLite's backup API: consistent while the services idle)."""
        import sqlite3

        folder.mkdir(parents=True, exist_ok=True)
        for name in ("cyborg.sqlite", "placement.sqlite"):
            with sqlite3.connect(self.work / name) as src, sqlite3.connect(folder / name) as dst:
                src.backup(dst)
        (folder / "complete").write_text("seeded\n")

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read straight on Cyborg's SQLite file."""
        import sqlite3

        with sqlite3.connect(self.db_path, timeout=60) as conn:
            return list(conn.execute(statement, params))

    def device_count(self) -> int:
        """Devices in Cyborg's database."""
        return int(self.sql("SELECT count(*) FROM devices")[0][0])

    def api_worker_pids(self) -> list[int]:
        """uWSGI's worker processes (children of its master)."""
        return procs.children(self.procs["api"].pid)

    def stop(self) -> None:
        """Stop everything this deployment started."""
        for proc in reversed(list(self.procs.values())):
            proc.stop()
