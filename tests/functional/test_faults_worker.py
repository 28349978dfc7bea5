"""An API worker SIGKILLed under load: gunicorn replaces it, and no request is half-applied.

Clients create ARQs for a profile asking for two accelerators, so each request writes two
rows in one transaction; one worker is killed while they run. Afterwards every answered
request's ARQs are all there, every profile's ARQ count is a whole number of requests, and the
service answers again from a new worker.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from cyborg_lite.db import models
from cyborg_lite.db.engine import Database
from tests import seed
from tests.functional.servers import call, running_api, sqlite_url
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

REQUESTS_PER_CLIENT = 15
CLIENTS = 4
LOAD_SECONDS = 40.0


def workers_of(master: int) -> set[int]:
    """The child processes of gunicorn's master (its workers), from /proc."""
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").iterdir():
        text = (task / "children").read_text().split()
        children.update(int(pid) for pid in text)
    return children


def master_pid(tmp_path: Path) -> int:
    """gunicorn's master for the API started under ``tmp_path``: the child of this test's
    process that ``running_api`` started. Its command line names the config file, unless
    setproctitle (installed with oslo.service's threading backend) let gunicorn retitle it
    ``gunicorn: master [cyborg-lite-api]``; either way it names cyborg-lite-api."""
    config = str(tmp_path / "cyborg-lite-api.conf")
    masters = []
    for pid in workers_of(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if config in cmdline or "master [cyborg-lite-api]" in cmdline:
            masters.append(pid)
    assert len(masters) == 1, masters
    return masters[0]


def test_worker_killed_under_load_leaves_no_half_applied_request(tmp_path):
    with running_api({"api.workers": 2, "api.threads": 2}, tmp_path) as base:
        db = Database(sqlite_url(tmp_path))
        seed.device(db, hostname="compute1", handles=1)
        status, _, raw = call(
            "POST",
            f"{base}/v2/device_profiles",
            [{"name": "pair", "groups": [{"resources:PGPU": "2"}]}],
        )
        assert status == 201, raw
        master = master_pid(tmp_path)
        before = workers_of(master)
        assert len(before) == 2

        answered: list[list[str]] = []
        failures: list[str] = []
        deadline = time.monotonic() + LOAD_SECONDS

        def client() -> None:
            for _ in range(REQUESTS_PER_CLIENT):
                if time.monotonic() > deadline:
                    return
                try:
                    status, _, raw = call(
                        "POST", f"{base}/v2/accelerator_requests", {"device_profile_name": "pair"}
                    )
                except OSError as err:  # the killed worker's connection: no answer at all
                    failures.append(repr(err))
                    continue
                if status == 201:
                    answered.append([a["uuid"] for a in json.loads(raw)["arqs"]])
                else:
                    failures.append(f"{status} {raw[:200]!r}")

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        wait_for("some requests to be answered", lambda: len(answered) >= 10)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        for t in threads:
            t.join(timeout=LOAD_SECONDS + 30)
        assert not any(t.is_alive() for t in threads)

        # gunicorn noticed and started a replacement.
        replaced = wait_for(
            "gunicorn to replace the killed worker",
            lambda: (w := workers_of(master)) and victim not in w and len(w) == 2 and w,
        )
        assert victim not in replaced
        status, _, raw = call("GET", f"{base}/v2/accelerator_requests")
        assert status == 200

        with db.transaction() as s:
            rows = s.execute(
                sa.select(
                    models.AcceleratorRequest.uuid, models.AcceleratorRequest.device_profile_id
                )
            ).all()
        db.dispose()
        stored = {uuid for uuid, _ in rows}
        # Every answered request's two ARQs are stored...
        assert all(len(arqs) == 2 and set(arqs) <= stored for arqs in answered)
        # ...and nothing else is there but whole requests (none of one ARQ out of two), even
        # from requests that died with the worker before their answer went out.
        assert len(rows) % 2 == 0
        assert len(rows) >= 2 * len(answered)
        # The only failures are connections cut by the kill, never an error status.
        assert all(
            f.startswith(("ConnectionResetError", "RemoteDisconnected", "URLError"))
            or "Connection" in f
            for f in failures
        ), failures
