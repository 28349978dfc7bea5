"""The agent's firmware job runner: from a dispatched job to an acknowledged result.

``AgentEndpoint.flash_firmware`` hands a job (``conductor.rollout_io.job_payload``) to
``JobRunner.submit``, which journals it (``jobstate``) and queues it; workers from a thread
pool (the runner's own, or one a fleet of simulated hosts shares) run the steps: download and
check the image (``images``), find the device by its stable id, journal ``flash_started``,
report ``flashing``, flash through the driver, report ``verifying`` (after a flash of a
second or more), re-discover and read the version back (``flashing``), journal the result
and send it with the conductor's ``job_update``. A result the conductor did not answer stays
in the journal and is sent again from the agent's loop (``retry_unacked``), so a broker
outage loses nothing.

One device never has two jobs at once, and a driver never runs more flashes at once than its
``max_parallel_flashes`` (one, unless the driver says otherwise). At start, jobs that never
reached the device run again; jobs whose flash had started are never flashed again: their
result is read from the device.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from oslo_log import log as logging

from cyborg_lite import rpc
from cyborg_lite.agent import flashing, images, jobstate
from cyborg_lite.agent.job_ports import Images, Inventory, JobConductor
from cyborg_lite.agent.results import ResultBatcher
from cyborg_lite.drivers import base
from cyborg_lite.firmware import states

LOG = logging.getLogger(__name__)

# Payload keys a job cannot run without (``conductor.rollout_io.job_payload`` sends them all).
REQUIRED = frozenset(
    {"job_uuid", "stable_id", "component", "image_uuid", "sha256", "target_version", "timeout"}
)


# A flash that took at least this many seconds announces ``verifying`` to the conductor.
VERIFYING_PROGRESS_AFTER = 1.0


class JobRunner:
    """Runs an agent's firmware jobs, at most once each, and delivers their results."""

    def __init__(
        self,
        inventory: Inventory,
        conductor: JobConductor,
        store: jobstate.JobStore,
        image_source: Images,
        *,
        discovery_timeout: float = 60.0,
        retry_interval: float = 10.0,
        report_delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        executor: concurrent.futures.Executor | None = None,
        results: ResultBatcher | None = None,
    ) -> None:
        self._inventory = inventory
        self._conductor = conductor
        # The process's batcher (RPC 1.6, issue 18): results and progress leave in batches;
        # None, or a conductor older than 1.6, sends each on its own as before.
        self._results = results
        self.store = store
        self._images = image_source
        self._discovery_timeout = discovery_timeout
        self._retry_interval = retry_interval
        self._report_delay = report_delay
        self._report_owed = False
        self._clock = clock
        self._queue: queue.Queue[str] = queue.Queue()
        # Workers are pool tasks started when jobs are queued, not threads held for the life
        # of the agent: an idle agent holds none, and a thousand simulated hosts in one
        # process share one pool instead of holding thousands of idle threads.
        self._executor = executor
        self._own_executor = False
        self._active = 0
        self._running = False
        self._workers_done = threading.Condition()
        self._lock = threading.Lock()
        self._device_locks: dict[str, threading.Lock] = {}
        self._driver_slots = {
            d.name: threading.BoundedSemaphore(max(1, d.max_parallel_flashes))
            for d in inventory.drivers
        }
        # While the conductor is known to be unreachable, progress is not sent (each try
        # would wait for the RPC timeout) and results wait for the next retry.
        self._quiet_until = 0.0

    # --- the RPC side ---------------------------------------------------------------------

    def submit(self, payload: dict[str, Any]) -> bool:
        """Accept a job; False when its uuid is already known (a repeated dispatch) or the
        payload lacks what a job needs (then the conductor's deadline deals with it)."""
        missing = sorted(REQUIRED - set(payload))
        if missing or not payload.get("job_uuid"):
            LOG.error("Job refused on %s: payload lacks %s", self._host, missing or "job_uuid")
            return False
        uuid = str(payload["job_uuid"])
        if not self.store.add(payload):
            LOG.info("Job %s is already known on %s; dispatch ignored", uuid, self._host)
            return False
        LOG.info("Job %s accepted on %s", uuid, self._host)
        self._queue.put(uuid)
        self._kick()
        return True

    def status(self, job_uuid: str) -> dict[str, Any] | None:
        """``{"state", "version", "error_code", "message"}`` of a job, None when unknown."""
        record = self.store.get(job_uuid)
        if record is None:
            return None
        result = record["result"] or {}
        return {
            "state": result.get("state", record["state"]),
            "version": result.get("version"),
            "error_code": result.get("error_code"),
            "message": result.get("message"),
        }

    # --- lifecycle ------------------------------------------------------------------------

    def workers(self) -> int:
        """Workers at most: enough for the most parallel driver (the slots do the limiting)."""
        return max([1, *(d.max_parallel_flashes for d in self._inventory.drivers)])

    def recover(self) -> list[str]:
        """Queue what an earlier run left unfinished; returns those job uuids.

        Jobs that never reached the device run from the start; jobs whose flash had started
        are settled from re-discovery (``process`` tells them apart). Unacknowledged results
        go out with the next ``retry_unacked``.
        """
        self._images.clear()
        todo = [r["uuid"] for r in self.store.records() if r["result"] is None]
        for uuid in todo:
            LOG.info("Resuming job %s on %s after a restart", uuid, self._host)
            self._queue.put(uuid)
        return todo

    def start(self) -> None:
        """Recover, then run what is queued (and from now on, what is submitted)."""
        if self._executor is None or self._own_executor:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.workers(), thread_name_prefix=f"jobs-{self._host}"
            )
            self._own_executor = True
        self.recover()
        with self._workers_done:
            self._running = True
        self._kick()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking queued jobs; wait up to ``timeout`` for the jobs being run. A flash in
        progress cannot be interrupted; if the process ends first, the journal has it as
        started."""
        with self._workers_done:
            self._running = False
            self._workers_done.wait_for(lambda: self._active == 0, timeout=timeout)
        if self._own_executor and self._executor is not None:
            self._executor.shutdown(wait=False)

    def _kick(self) -> None:
        """Start one more worker if jobs wait and fewer than ``workers()`` run."""
        with self._workers_done:
            if not self._running or self._active >= self.workers() or self._queue.empty():
                return
            self._active += 1
        assert self._executor is not None
        try:
            self._executor.submit(self._work)
        except RuntimeError:  # the shared pool is shutting down with the process
            with self._workers_done:
                self._active -= 1
                self._workers_done.notify_all()

    def _work(self) -> None:
        while True:
            # Taking a job and leaving are decided under the lock ``_kick`` holds, so a job
            # queued while the last worker leaves always gets a worker.
            with self._workers_done:
                uuid = None
                if self._running:
                    with contextlib.suppress(queue.Empty):
                        uuid = self._queue.get_nowait()
                if uuid is None:
                    self._active -= 1
                    self._workers_done.notify_all()
                    last = self._active == 0
            if uuid is None:
                if last:
                    self._report_if_owed()
                return
            try:
                self.process(uuid)
            except Exception:  # a bug in one job must not end the worker
                LOG.exception("Job %s failed unexpectedly on %s", uuid, self._host)

    def run_queued(self) -> int:
        """Run every queued job in this thread, one after the other (tests step the runner so;
        the service has worker threads)."""
        count = 0
        while True:
            try:
                uuid = self._queue.get_nowait()
            except queue.Empty:
                self._report_if_owed()
                return count
            self.process(uuid)
            count += 1

    # --- one job --------------------------------------------------------------------------

    def process(self, uuid: str) -> None:
        """Take one journaled job to its result (nothing when it already has one)."""
        record = self.store.get(uuid)
        if record is None or record["result"] is not None:
            return
        payload = record["payload"]
        with self._device_lock(str(payload["stable_id"])):
            try:
                if record["flash_started"]:
                    outcome = self._settle_interrupted(payload)
                else:
                    outcome = self._run(uuid, payload)
            except Exception as err:  # a bug here must still end the job, not leave it open
                LOG.exception("Job %s failed unexpectedly on %s", uuid, self._host)
                outcome = flashing.failed("unknown", f"The agent failed running the job: {err!r}")
        self._finish(uuid, outcome)

    def _run(self, uuid: str, payload: dict[str, Any]) -> flashing.Outcome:
        try:
            path = self._images.fetch(payload["image_uuid"], payload["sha256"], payload.get("size"))
        except images.ImageError as err:
            return flashing.failed(err.code, err.message)
        try:
            return self._flash(uuid, payload, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _flash(self, uuid: str, payload: dict[str, Any], path: str) -> flashing.Outcome:
        component, target = str(payload["component"]), str(payload["target_version"])
        located = self._locate(str(payload["stable_id"]))
        if located is None:
            return flashing.failed(
                "device-lost", f"No driver on {self._host} reports device {payload['stable_id']}."
            )
        driver, device = located
        done = flashing.already_done(device, component, target)
        if done is not None:
            return done
        with self._driver_slots.setdefault(driver.name, threading.BoundedSemaphore(1)):
            # Journaled before the driver runs: after a crash from here on, the job is never
            # flashed again, only settled from what the device shows.
            self.store.update(uuid, flash_started=True, state=states.FLASHING)
            self._progress(uuid, states.FLASHING)
            flash_began = self._clock()
            try:
                result = driver.flash(
                    device, component, path, float(payload["timeout"]), expected_version=target
                )
            except Exception as err:  # a driver bug is the job's failure, not the agent's
                LOG.exception("Driver %s raised during job %s", driver.name, uuid)
                result = base.FlashResult(False, error_code="unknown", message=f"{err!r}")
        after = None
        if result.ok:
            # Not journaled: after a crash from here on the job is settled from the device
            # anyway (``flash_started``), and each journal write rewrites the host's file.
            # Worth a message only after a flash long enough for someone to be watching; after
            # a quick one the result follows at once (a tenth of a rollout's messages).
            if self._clock() - flash_began >= VERIFYING_PROGRESS_AFTER:
                self._progress(uuid, states.VERIFYING)
            again = self._locate(device.stable_id, [driver])
            after = again[1] if again else None
        allow_reboot = bool(payload.get("allow_reboot"))
        return flashing.after_flash(result, after, component, target, allow_reboot)

    def _settle_interrupted(self, payload: dict[str, Any]) -> flashing.Outcome:
        located = self._locate(str(payload["stable_id"]))
        return flashing.after_restart(
            located[1] if located else None,
            str(payload["component"]),
            str(payload["target_version"]),
        )

    def _locate(
        self, stable_id: str, drivers: Sequence[base.Driver] | None = None
    ) -> tuple[base.Driver, base.Device] | None:
        hint = None
        for device in (self._inventory.last_report or {}).get("devices", []):
            if device.get("stable_id") == stable_id:
                hint = device.get("driver")
        chosen = self._inventory.drivers if drivers is None else drivers
        return flashing.locate(chosen, stable_id, hint, self._discovery_timeout)

    @contextlib.contextmanager
    def _device_lock(self, stable_id: str) -> Iterator[None]:
        with self._lock:
            lock = self._device_locks.setdefault(stable_id, threading.Lock())
        with lock:
            yield

    # --- talking to the conductor ---------------------------------------------------------

    def _finish(self, uuid: str, outcome: flashing.Outcome) -> None:
        record = self.store.finish(uuid, outcome.as_dict())
        LOG.info(
            "Job %s on %s ended %s %s", uuid, self._host, outcome.state, outcome.error_code or ""
        )
        if record["flash_started"]:
            # A report carries what the device runs now: one when the queue runs dry, not one
            # per job (the result already told the conductor the new version).
            with self._lock:
                self._report_owed = True
        self._deliver(record)

    def _report_if_owed(self) -> None:
        with self._lock:
            owed, self._report_owed = self._report_owed, False
        if owed:
            self._inventory.request_refresh(self._report_delay)

    def _deliver(self, record: dict[str, Any]) -> bool:
        result = record["result"]
        if self._results is not None and self._results.batched:
            uuid = record["uuid"]
            update = {
                "job_uuid": uuid,
                "state": result["state"],
                "version": result["version"],
                "error_code": result["error_code"],
                "message": result["message"],
            }
            self._results.send_result(update, lambda ok: self._delivered(uuid, ok))
            return True
        try:
            self._conductor.job_update(
                rpc.admin_context(),
                record["uuid"],
                result["state"],
                version=result["version"],
                error_code=result["error_code"],
                message=result["message"],
            )
        except Exception as err:  # broker or conductor down: the journal keeps it for later
            LOG.warning("Result of job %s not delivered (%s); will retry", record["uuid"], err)
            self._quiet_until = self._clock() + self._retry_interval
            return False
        # Any answer acknowledges, "accepted": False included (a duplicate the conductor
        # already had): what matters is that a conductor has seen it.
        self.store.acknowledge(record["uuid"])
        return True

    def _delivered(self, uuid: str, ok: bool) -> None:
        """The batcher's word on a result: acknowledged, or retried after a pause."""
        if ok:
            self.store.acknowledge(uuid)
        else:
            self._quiet_until = self._clock() + self._retry_interval

    def _progress(self, uuid: str, state: str) -> None:
        if self._clock() < self._quiet_until:
            return
        if self._results is not None and self._results.batched:
            self._results.send_progress({"job_uuid": uuid, "state": state})
            return
        try:
            self._conductor.job_progress(rpc.admin_context(), uuid, state)
        except Exception as err:  # progress is advisory; the result is what must arrive
            LOG.warning("Progress %s of job %s not delivered (%s)", state, uuid, err)
            self._quiet_until = self._clock() + self._retry_interval

    def retry_unacked(self) -> int:
        """Send results the conductor has not answered yet (called from the agent's loop);
        stops at the first failure. Returns how many were delivered."""
        if self._clock() < self._quiet_until:
            return 0
        delivered = 0
        for record in self.store.unacknowledged():
            if not self._deliver(record):
                break
            delivered += 1
        return delivered

    @property
    def _host(self) -> str:
        return self._inventory.host
