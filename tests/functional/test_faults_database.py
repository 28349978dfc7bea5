"""PostgreSQL going away under API load: requests fail cleanly (503, a clear message) while it
is down, succeed once it is back, and nothing is half-written.

The shared PostgreSQL server is never touched: the test runs its own throwaway cluster
(``initdb`` and ``pg_ctl`` on a free loopback port, in a temporary folder) and stops and starts
that one. PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
user. Without the binaries (or that user) the test skips, or fails with
``CYBORG_LITE_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import collections
import contextlib
import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator

import falcon.testing
import pytest
import sqlalchemy as sa

from cyborg_lite.api.app import create_app
from cyborg_lite.db import migration, models
from cyborg_lite.db.engine import Database
from tests import seed, services
from tests.conftest import make_test_conf
from tests.functional.servers import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

LOAD_THREADS = 3


def _pg_bin(name: str) -> str | None:
    """A PostgreSQL server binary: on PATH, else Debian's versioned folder (newest)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class Cluster:
    """A throwaway PostgreSQL cluster of this test's own."""

    def __init__(self, folder: str, port: int) -> None:
        self.folder = folder
        self.data = os.path.join(folder, "data")
        self.port = port
        self._as: list[str] = []
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")  # KeyError when there is no such user
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as, *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if self._as:
            shutil.chown(self.folder, "postgres", "postgres")
        initdb = _pg_bin("initdb")
        assert initdb, "initdb not found"
        self._run(initdb, "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        pg_ctl = _pg_bin("pg_ctl")
        assert pg_ctl, "pg_ctl not found"
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run(
            pg_ctl, "-D", self.data, "-o", options, "-l", f"{self.folder}/pg.log", "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        pg_ctl = _pg_bin("pg_ctl")
        assert pg_ctl
        self._run(pg_ctl, "-D", self.data, "-m", mode, "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/cyl"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    folder = tempfile.mkdtemp(prefix="cyl-pg-")
    try:
        try:
            made = Cluster(folder, free_port())
            made.init()
            made.start()
        except (OSError, KeyError, AssertionError, subprocess.SubprocessError) as err:
            services.unavailable("A throwaway PostgreSQL cluster (initdb, pg_ctl)", err)
        try:
            admin = sa.create_engine(
                made.url.replace("/cyl", "/postgres"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(sa.text("CREATE DATABASE cyl"))
            admin.dispose()
            yield made
        finally:
            with contextlib.suppress(subprocess.SubprocessError):
                made.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_database_down_under_load_is_a_clean_503_then_recovers(cluster, tmp_path):
    db = Database(cluster.url, pool_size=4)
    migration.upgrade(db.engine)
    seed.device(db, hostname="compute1", handles=1)
    conf = make_test_conf(str(tmp_path))
    client = falcon.testing.TestClient(create_app(conf, db=db))
    made = client.simulate_post(
        "/v2/device_profiles", json=[{"name": "pair", "groups": [{"resources:PGPU": "2"}]}]
    )
    assert made.status_code == 201, made.text

    statuses: collections.Counter[int] = collections.Counter()
    answered: list[list[str]] = []
    other: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def load() -> None:
        while not stop.is_set():
            result = client.simulate_post(
                "/v2/accelerator_requests", json={"device_profile_name": "pair"}
            )
            with lock:
                statuses[result.status_code] += 1
                if result.status_code == 201:
                    answered.append([a["uuid"] for a in result.json["arqs"]])
                elif result.status_code == 503:
                    inner = json.loads(result.json["error_message"])
                    if "database is unreachable" not in inner["faultstring"]:
                        other.append(result.text)
                else:
                    other.append(f"{result.status_code} {result.text[:300]}")
            time.sleep(0.01)

    threads = [threading.Thread(target=load) for _ in range(LOAD_THREADS)]
    for t in threads:
        t.start()
    try:
        wait_for("requests to succeed", lambda: statuses[201] >= 5)
        cluster.stop("fast")
        wait_for("requests to fail with 503", lambda: statuses[503] >= 5)
        health = client.simulate_get("/healthcheck")
        assert (health.status_code, health.text) == (503, "database unreachable")
        ok_before = statuses[201]
        cluster.start()
        wait_for("requests to succeed again", lambda: statuses[201] >= ok_before + 5)
        assert client.simulate_get("/healthcheck").status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert other == [], other[:3]
    assert set(statuses) <= {201, 503}

    with db.transaction() as s:
        stored = list(s.scalars(sa.select(models.AcceleratorRequest.uuid)))
    db.dispose()
    assert all(len(arqs) == 2 and set(arqs) <= set(stored) for arqs in answered)
    # Whole requests only: a commit cut by the shutdown wrote both rows or neither.
    assert len(stored) % 2 == 0
