"""The rollout engine: advances rollouts wave by wave, within their limits, crash-safely.

Every job transition is written to SQL before it is acted on, and no remote call is made while
a transaction is open. A job starts in three steps: commit ``draining`` with the device's drain
in SQL (binds refuse it from then on), drain it in Placement with no transaction open, commit
``dispatched``, then cast to the agent. A conductor that dies at any point is replaced by
another (or itself, restarted) that takes the rollout's lease once it expires and carries on:
jobs caught between drain and dispatch are drained and dispatched again, which is safe because
agents run a job uuid at most once. Job results from
agents (applied by ``rollout_results``) advance their rollout at once, on whichever conductor
the broker handed them to: any conductor advances a rollout under its row lock, which keeps the
limits, and dispatches the jobs it started; the lease only says who recovers after a death
(issue 18). A timer only covers what no message announces (the end of a bake, a window
opening, a deadline, a lease to renew).

The engine decides; its SQL is in ``db/rollouts.py`` (reading and locking rollouts) and
``db/rollout_jobs.py`` (job transitions, drains, counts, deadlines).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from oslo_log import log as logging
from sqlalchemy import orm

from cyborg_lite.conductor import rollout_io, rollout_results
from cyborg_lite.conductor.rollout_io import Agents, NoScheduling, Scheduling, Settings, next_open
from cyborg_lite.db import models
from cyborg_lite.db import rollout_jobs as db_jobs
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.db.engine import Database
from cyborg_lite.firmware import states
from cyborg_lite.firmware import strategy as strategy_mod

LOG = logging.getLogger(__name__)

# How often a wave waiting on in-use devices (in_use = wait) looks again.
IN_USE_RETRY = dt.timedelta(seconds=30)
_SCAN_BATCH = 256


class Engine:
    """Advances rollouts. Thread-safe per rollout through a row lock taken first thing."""

    def __init__(
        self,
        db: Database,
        agents: Agents,
        *,
        owner: str,
        settings: Settings | None = None,
        scheduling: Scheduling | None = None,
        clock: Callable[[], dt.datetime] = models.utcnow,
        on_transition: Callable[[str, dict[str, Any]], None] | None = None,
        on_bound: Callable[[dict[str, tuple[str, str]]], None] | None = None,
    ) -> None:
        self._db = db
        self._agents = agents
        self.owner = owner
        self._settings = settings or Settings()
        self._scheduling = scheduling or NoScheduling()
        self._clock = clock
        self._emit = on_transition or (lambda _event, _payload: None)
        # Binds that waited for a bitstream load and are now over: {arq: (instance, state)},
        # told to Nova after the commit (the conductor's Nova client), as Cyborg's
        # asynchronous bind does.
        self._on_bound = on_bound or (lambda _bound: None)
        # Set by the conductor to its runner's ``notify``: a job's result then wakes the runner,
        # which advances once for every result that arrived meanwhile, instead of each result
        # advancing (a locked pass over the wave) on its own. None: advance at once (tests).
        self.advance_later: Callable[[str], None] | None = None

    # --- public entry points -------------------------------------------------------------

    def advance(self, rollout_uuid: str) -> dt.datetime | None:
        """Take the rollout as far as it can go now; returns when it next needs a look (a bake
        ending, a window opening, a deadline), or None when only an event can move it."""
        with self._db.transaction() as session:
            rollout = db_rollouts.lock(session, rollout_uuid)
            if rollout is None:
                return None
            if rollout.state not in states.UNFINISHED:
                # Finished: nothing to drive, and no lease to take (a finished rollout
                # holds none).
                return None
            now = self._clock()
            # Any conductor advances under the row lock, which alone keeps the limits (the
            # counts are read under it): a result that reached a conductor without the lease
            # fills the slot it freed at once (issue 18). The lease is for what one conductor
            # must do: noticing that its holder died, and recovering the jobs it left.
            took_over = self._take_lease(rollout, now)
            redrain, redo = self._recover(session, rollout) if took_over else ([], [])
            wake, started = self._step(session, rollout, now)
            if rollout.lease_owner not in (None, self.owner) and rollout.lease_expires:
                # Another's lease: look again when it ends, to take over if it was not
                # renewed (its holder died).
                wake = min(wake, rollout.lease_expires) if wake else rollout.lease_expires
        # Committed: the jobs are draining and their devices refuse binds. Placement next.
        draining = redrain + started
        for job in draining:
            self._scheduling.drain(job.device_uuid)
        for payload in redo + self._dispatched(rollout_uuid, draining):
            self._dispatch(payload)
        # Lease renewal is the runner's periodic sweep (more often than lease_seconds / 2);
        # the wake time returned here is only what this rollout itself waits for.
        return wake

    def job_update(
        self,
        job_uuid: str,
        state: str,
        *,
        version: str | None = None,
        error_code: str | None = None,
        message: str | None = None,
    ) -> bool:
        """An agent's news of a job. Applied only if it moves the job forward (duplicates
        and late messages change nothing); then the rollout advances. Returns whether it was
        applied."""
        with self._db.transaction() as session:
            done = rollout_results.record(
                session,
                job_uuid,
                state,
                clock=self._clock,
                version=version,
                error_code=error_code,
                message=message,
            )
        if done is None:
            return False
        rollout_uuid, device_uuid = done.rollout_uuid, done.device_uuid
        self._emit(
            "firmware.job." + state,
            {
                "job_uuid": job_uuid,
                "rollout_uuid": rollout_uuid,
                "device_uuid": device_uuid,
                "version": version,
                "error_code": error_code,
            },
        )
        if state not in states.TERMINAL:
            return True  # progress frees no slot and moves no wave: nothing to advance
        self._scheduling.restore(device_uuid)
        if done.bound:
            self._notify_bound(done.bound)
        if rollout_uuid:
            if self.advance_later is not None:
                self.advance_later(rollout_uuid)
            else:
                self.advance(rollout_uuid)
        return True

    def _notify_bound(self, bound: dict[str, tuple[str, str]]) -> None:
        for arq_uuid, (_instance, final) in sorted(bound.items()):
            LOG.info("Accelerator request %s: %s after its bitstream load", arq_uuid, final)
        try:
            self._on_bound(bound)
        except Exception:  # Nova learns of it on its next read; the bind stands
            LOG.exception("Could not tell Nova about binds %s", sorted(bound))

    def unfinished(self) -> list[str]:
        """Uuids of rollouts that still need driving."""
        with self._db.transaction() as session:
            return db_rollouts.unfinished(session)

    # --- steps ----------------------------------------------------------------------------

    def _take_lease(self, rollout: models.Rollout, now: dt.datetime) -> bool:
        """Take or renew the rollout's lease unless another live conductor holds it. True:
        taken over from another (whose jobs in between need recovering). False otherwise."""
        mine = rollout.lease_owner == self.owner
        expired = rollout.lease_expires is None or rollout.lease_expires <= now
        if not mine and not expired:
            return False
        previous = rollout.lease_owner
        took_over = not mine and previous is not None
        rollout.lease_owner = self.owner
        rollout.lease_expires = now + dt.timedelta(seconds=self._settings.lease_seconds)
        if took_over:
            # ``previous`` was read before the overwrite: the line names the old owner.
            LOG.info(
                "Conductor %s takes over rollout %s from %s", self.owner, rollout.uuid, previous
            )
        return took_over

    def _recover(
        self, session: orm.Session, rollout: models.Rollout
    ) -> tuple[list[models.RolloutJob], list[dict[str, Any]]]:
        """After a takeover: jobs caught between drain and dispatch start again. Returns the
        draining ones (drained in SQL again; Placement and dispatch follow the commit) and the
        payloads of the dispatched ones (sent again)."""
        draining, payloads = [], []
        for job in db_jobs.in_flight(session, rollout.id):
            if job.state in (states.DRAINING, states.DISPATCHED):
                db_jobs.drain(session, job.device_uuid, job.uuid)
            if job.state == states.DRAINING:
                draining.append(job)
            elif job.state == states.DISPATCHED:
                payloads.append(
                    rollout_io.job_payload(
                        session, rollout, job, self._settings.job_timeout_seconds
                    )
                )
        return draining, payloads

    def _dispatched(self, rollout_uuid: str, jobs: list[models.RolloutJob]) -> list[dict[str, Any]]:
        """Commit ``dispatched`` for draining jobs; their payloads, to cast after the commit."""
        if not jobs:
            return []
        with self._db.transaction() as session:
            rollout = db_rollouts.get(session, rollout_uuid)
            moved = db_jobs.move_many(
                session,
                [job.uuid for job in jobs],
                [states.DRAINING],
                states.DISPATCHED,
                dispatched_by=self.owner,
            )
            return rollout_io.job_payloads(
                session,
                rollout,
                [job for job in jobs if job.uuid in moved],
                self._settings.job_timeout_seconds,
            )

    def _step(
        self, session: orm.Session, rollout: models.Rollout, now: dt.datetime
    ) -> tuple[dt.datetime | None, list[models.RolloutJob]]:
        if rollout.state != states.RUNNING:
            return None, []
        strat = strategy_mod.from_dict(json.loads(rollout.strategy))
        while True:
            counts = db_jobs.wave_counts(session, rollout.id, rollout.current_wave)
            size = sum(counts.values())
            failed = sum(counts.get(s, 0) for s in states.FAILURES) - rollout.forgiven_failures
            # A program (one device, one bitstream) ends failed, not halted: there is nothing
            # left for a halt to protect and no operator waiting to resume it.
            halts = rollout.kind != states.PROGRAM
            if halts and strategy_mod.budget_exceeded(failed, size, strat):
                self._finish(
                    rollout,
                    states.HALTED,
                    now,
                    f"Wave {rollout.current_wave} reached its failure budget: "
                    f"{failed} of {size} jobs failed. Resume or abort.",
                )
                return None, []
            open_jobs = counts.get(states.PENDING, 0) + sum(
                counts.get(s, 0) for s in states.IN_FLIGHT
            )
            if open_jobs:
                break
            if rollout.wave_finished_at is None:
                rollout.wave_finished_at = now
            if rollout.current_wave + 1 >= rollout.wave_count:
                self._complete(session, rollout, now)
                return None, []
            bake_end = rollout.wave_finished_at + dt.timedelta(seconds=strat.bake_seconds)
            if now < bake_end:
                return bake_end, []
            rollout.current_wave += 1
            rollout.wave_finished_at = None
            rollout.forgiven_failures = 0
            self._emit(
                "firmware.rollout.wave",
                {"rollout_uuid": rollout.uuid, "wave": rollout.current_wave},
            )
        if not counts.get(states.PENDING):
            return db_jobs.next_deadline(session, rollout.id), []
        if strat.window is not None and not strat.window.is_open(now.replace(tzinfo=dt.UTC)):
            return next_open(strat.window, now), []
        return self._start_jobs(session, rollout, strat, now)

    def _start_jobs(
        self,
        session: orm.Session,
        rollout: models.Rollout,
        strat: strategy_mod.Strategy,
        now: dt.datetime,
    ) -> tuple[dt.datetime | None, list[models.RolloutJob]]:
        """Move the jobs that may start now to ``draining`` and drain their devices in SQL;
        returns them (the caller drains Placement after the commit, then dispatches)."""
        # A COUNT: loading up to max_in_flight jobs on every pass cost most of a pass.
        slots = strat.max_in_flight - db_jobs.count_in_flight(session, rollout.id)
        if slots <= 0:
            return db_jobs.next_deadline(session, rollout.id), []
        chosen: list[models.RolloutJob] = []
        waiting_in_use = False
        offset = 0
        while slots > 0:
            batch = db_jobs.pending(
                session, rollout.id, rollout.current_wave, limit=_SCAN_BATCH + offset
            )[offset:]
            if not batch:
                break
            offset += len(batch)
            per_host = db_jobs.in_flight_by_host(session, sorted({j.hostname for j in batch}))
            held = (
                db_jobs.held_devices(session, [j.device_uuid for j in batch])
                if strat.in_use == "wait"
                else set()
            )
            for job in batch:
                if slots <= 0:
                    break
                if per_host.get(job.hostname, 0) >= strat.max_in_flight_per_host:
                    continue
                if job.device_uuid in held:
                    waiting_in_use = True
                    continue
                per_host[job.hostname] = per_host.get(job.hostname, 0) + 1
                chosen.append(job)
                slots -= 1
        deadline = now + dt.timedelta(seconds=self._settings.job_timeout_seconds)
        # A statement per few hundred jobs, not several per job: one pass may start a
        # thousand. Under the rollout's lock nothing else starts these jobs, so all move
        # (``start`` still returns only those that did).
        moved = db_jobs.start(
            session, [job.uuid for job in chosen], started_at=now, deadline=deadline
        )
        started = [job for job in chosen if job.uuid in moved]
        # A crash before the commit leaves the jobs pending; after it, recovery finds them
        # draining and carries on.
        db_jobs.drain_many(session, [(job.device_uuid, job.uuid) for job in started])
        wake = db_jobs.next_deadline(session, rollout.id)
        if waiting_in_use:
            retry = now + IN_USE_RETRY
            wake = min(wake, retry) if wake else retry
        return wake, started

    def _dispatch(self, payload: dict[str, Any]) -> None:
        try:
            self._agents.flash(payload["hostname"], payload)
        except Exception:  # the job stays dispatched; its deadline brings it back
            LOG.exception(
                "Dispatch of job %s to %s failed", payload["job_uuid"], payload["hostname"]
            )

    def redispatch(self, job_uuid: str) -> None:
        """Send a stuck job to its agent again with a new deadline (agents dedupe)."""
        deadline = self._clock() + dt.timedelta(seconds=self._settings.job_timeout_seconds)
        with self._db.transaction() as session:
            job = db_jobs.get(session, job_uuid)
            if job is None or job.state not in (states.DRAINING, states.DISPATCHED):
                return
            was_draining = job.state == states.DRAINING
            rollout = db_rollouts.by_id(session, job.rollout_id)
            if rollout is None:
                return
            db_jobs.move(
                session,
                job_uuid,
                [job.state],
                states.DISPATCHED,
                attempts=job.attempts + 1,
                deadline=deadline,
                dispatched_by=self.owner,
            )
            payload = rollout_io.job_payload(
                session, rollout, job, self._settings.job_timeout_seconds
            )
        if was_draining:  # its Placement drain may not have happened
            self._scheduling.drain(job.device_uuid)
        self._dispatch(payload)

    def _complete(self, session: orm.Session, rollout: models.Rollout, now: dt.datetime) -> None:
        counts = db_rollouts.progress(session, [rollout.id])[rollout.id].by_state
        failed = sum(counts.get(s, 0) for s in states.FAILURES)
        done = counts.get(states.SUCCEEDED, 0)
        pending = counts.get(states.PENDING_ACTIVATION, 0)
        summary = f"{done} succeeded, {failed} failed, {pending} pending activation."
        # Failures within the budget are what the strategy accepted: the rollout completed,
        # and its counts say how many devices failed. It failed only if no device took it.
        nothing_took = failed and not done and not pending
        self._finish(rollout, states.FAILED if nothing_took else states.COMPLETED, now, summary)

    def _finish(self, rollout: models.Rollout, state: str, now: dt.datetime, message: str) -> None:
        rollout.state = state
        rollout.message = message
        if state not in states.UNFINISHED:
            rollout.finished_at = now
            rollout.lease_owner = None
            rollout.lease_expires = None
        self._emit("firmware.rollout." + state, {"rollout_uuid": rollout.uuid, "message": message})
