"""The agent's journal of firmware jobs: ``$state_path/agent-jobs-<host>.json``.

Every job the agent accepts is written here before anything else happens to it, and every step
after: whether the flash started, the result, whether the conductor acknowledged it. The file
is what makes a job uuid run at most once (a repeated dispatch finds it), and what a restarted
agent reads to tell resumable jobs (never touched the device) from interrupted ones (must not
be flashed again). Writes are atomic: a temporary file, fsync, rename, fsync of the folder, so
a crash leaves the old or the new journal, never half of one.

Acknowledged jobs are kept for a while (``[agent] job_history_days``, at most
``[agent] job_history_max`` of them) so that a late duplicate dispatch is still recognised;
unfinished or unacknowledged jobs are never dropped.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

# The record's ``state`` before any progress: the conductor's name for "the agent has it".
ACCEPTED = "dispatched"


def journal_path(state_path: str, host: str) -> str:
    """Where ``host``'s agent keeps its jobs (host-specific: agents may share a machine)."""
    return os.path.join(state_path, f"agent-jobs-{host}.json")


def write_json(path: str, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically and durably (the agent's state files)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    # orjson: the journal is rewritten at each step of each job, and the standard library's
    # encoder was the largest share of a simulated fleet's CPU per job in the rollout bench.
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    # The rename itself is only durable once the folder's entry is on disk.
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def new_record(payload: dict[str, Any], now: float) -> dict[str, Any]:
    """A freshly accepted job: nothing done yet."""
    return {
        "uuid": str(payload["job_uuid"]),
        "payload": dict(payload),
        "state": ACCEPTED,
        "flash_started": False,
        "result": None,
        "acked": False,
        "accepted_at": now,
        "finished_at": None,
    }


class JobStore:
    """The journal, in memory and on disk; every method is thread-safe and writes through."""

    def __init__(
        self,
        path: str,
        *,
        keep_seconds: float = 30 * 86400.0,
        keep_max: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._keep_seconds = keep_seconds
        self._keep_max = keep_max
        self._clock = clock
        self._lock = threading.RLock()
        self._jobs: dict[str, dict[str, Any]] | None = None  # read on first use, not here

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._jobs is None:
            try:
                with open(self.path, encoding="utf-8") as f:
                    self._jobs = {j["uuid"]: j for j in json.load(f)["jobs"]}
            except FileNotFoundError:
                self._jobs = {}
        return self._jobs

    def _write(self) -> None:
        jobs = self._load()
        ordered = sorted(jobs.values(), key=lambda j: (j["accepted_at"], j["uuid"]))
        write_json(self.path, {"jobs": ordered})

    def add(self, payload: dict[str, Any]) -> bool:
        """Journal a new job; False (and nothing written) when its uuid is already known."""
        with self._lock:
            jobs = self._load()
            uuid = str(payload["job_uuid"])
            if uuid in jobs:
                return False
            jobs[uuid] = new_record(payload, self._clock())
            self._write()
            return True

    def get(self, uuid: str) -> dict[str, Any] | None:
        """A copy of one job's record, or None."""
        with self._lock:
            record = self._load().get(uuid)
            return copy.deepcopy(record) if record is not None else None

    def records(self) -> list[dict[str, Any]]:
        """Copies of every record, oldest first."""
        with self._lock:
            found = sorted(self._load().values(), key=lambda j: (j["accepted_at"], j["uuid"]))
            return copy.deepcopy(found)

    def update(self, uuid: str, **fields: Any) -> dict[str, Any]:
        """Change fields of a known job and write the journal; returns a copy of the record."""
        with self._lock:
            record = self._load()[uuid]
            record.update(fields)
            self._write()
            return copy.deepcopy(record)

    def finish(self, uuid: str, result: dict[str, Any]) -> dict[str, Any]:
        """Record a job's result (not yet acknowledged)."""
        return self.update(
            uuid, state=result["state"], result=dict(result), acked=False, finished_at=self._clock()
        )

    def acknowledge(self, uuid: str) -> None:
        """The conductor answered the job's result: mark it, and drop old history."""
        with self._lock:
            self._load()[uuid]["acked"] = True
            self._prune()
            self._write()

    def unacknowledged(self) -> list[dict[str, Any]]:
        """Copies of the jobs whose result the conductor has not answered yet."""
        return [r for r in self.records() if r["result"] is not None and not r["acked"]]

    def _prune(self) -> None:
        jobs = self._load()
        done = sorted(
            (j for j in jobs.values() if j["acked"] and j["result"] is not None),
            key=lambda j: (j["finished_at"] or 0.0, j["uuid"]),
        )
        horizon = self._clock() - self._keep_seconds
        excess = max(0, len(jobs) - self._keep_max)
        for record in done:
            if excess > 0 or (record["finished_at"] or 0.0) < horizon:
                del jobs[record["uuid"]]
                excess -= 1
