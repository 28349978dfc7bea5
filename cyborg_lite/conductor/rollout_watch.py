"""The rollout watchdog: jobs past their deadline are asked about, then retried or failed; jobs
on hosts that went down fail with that reason; jobs left draining by a conductor that died are
dispatched again; jobs waiting for activation are settled from the host's next report. With
several conductors, each watches the jobs of the hosts it owns (the hash ring, issue 18)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from oslo_log import log as logging

from cyborg_lite.conductor.rollout import Engine
from cyborg_lite.conductor.rollout_io import Agents, Settings
from cyborg_lite.db import models
from cyborg_lite.db import rollout_jobs as db_jobs
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.db.engine import Database
from cyborg_lite.firmware import states, versions

LOG = logging.getLogger(__name__)


class Watchdog:
    """Checks a rollout's in-flight jobs against their deadlines and their hosts' state."""

    def __init__(
        self,
        engine: Engine,
        db: Database,
        agents: Agents,
        settings: Settings,
        clock: Callable[[], dt.datetime] = models.utcnow,
        owns: Callable[[str], bool] | None = None,
    ) -> None:
        self._owns = owns or (lambda _hostname: True)
        self._engine = engine
        self._db = db
        self._agents = agents
        self._settings = settings
        self._clock = clock

    def check(self, rollout_uuid: str, down_hosts: Sequence[str] = ()) -> None:
        """Jobs past their deadline are asked about, then failed; jobs on hosts that went
        down fail with that reason."""
        now = self._clock()
        with self._db.transaction() as session:
            rollout = db_rollouts.find(session, rollout_uuid)
            if rollout is None:
                return
            stuck = [
                (j.uuid, j.hostname, j.state, j.attempts)
                for j in db_jobs.overdue(session, rollout.id, now)
                if self._owns(j.hostname)
            ]
            left_before = now - dt.timedelta(seconds=self._settings.lease_seconds)
            left = [
                j.uuid
                for j in db_jobs.left_draining(session, rollout.id, left_before)
                if self._owns(j.hostname)
            ]
            # Filtered in SQL, and skipped when no host is down (the usual case): loading
            # every in-flight job each sweep was most of the runner's time at 1,000 in flight.
            lost = (
                [
                    (j.uuid, j.hostname)
                    for j in db_jobs.in_flight(session, rollout.id, hostnames=down_hosts)
                    if self._owns(j.hostname)
                ]
                if down_hosts
                else []
            )
        for job_uuid, hostname in lost:
            self._engine.job_update(
                job_uuid,
                states.JOB_FAILED,
                error_code="host-down",
                message=f"Host {hostname} went down while the job was in flight.",
            )
        for job_uuid, hostname, state, attempts in stuck:
            self._resolve_overdue(job_uuid, hostname, state, attempts)
        overdue = {job[0] for job in stuck}
        for job_uuid in left:
            if job_uuid not in overdue:
                # Drained in SQL by a conductor that died before dispatching it: drain and
                # dispatch it again (an agent runs a job uuid at most once).
                LOG.info("Job %s was left draining; dispatching it again", job_uuid)
                self._engine.redispatch(job_uuid)

    def _resolve_overdue(self, job_uuid: str, hostname: str, state: str, attempts: int) -> None:
        try:
            known = self._agents.job_status(hostname, job_uuid)
        except Exception:  # unreachable agent: treated as not knowing the job
            LOG.warning("Agent on %s did not answer about job %s", hostname, job_uuid)
            known = None
        if known and known.get("state") in states.TERMINAL:
            self._engine.job_update(
                job_uuid,
                known["state"],
                version=known.get("version"),
                error_code=known.get("error_code"),
                message=known.get("message"),
            )
            return
        if known and known.get("state") in states.IN_FLIGHT:
            self._extend(job_uuid)  # the agent is on it: give it another deadline
            return
        if attempts < self._settings.max_attempts and state in (states.DRAINING, states.DISPATCHED):
            self._engine.redispatch(job_uuid)
            return
        self._engine.job_update(
            job_uuid,
            states.JOB_FAILED,
            error_code="timeout",
            message=f"No result from {hostname} before the job's deadline.",
        )

    def _extend(self, job_uuid: str) -> None:
        deadline = self._clock() + dt.timedelta(seconds=self._settings.job_timeout_seconds)
        with self._db.transaction() as session:
            db_jobs.extend_deadline(session, job_uuid, deadline)

    def settle(self, hostname: str) -> int:
        """After a report from ``hostname``: jobs waiting for activation whose device now runs
        the new version succeed; those whose device activated another version fail."""
        with self._db.transaction() as session:
            waiting = db_jobs.awaiting_activation(session, hostname)
        settled = 0
        for job in waiting:
            if job.wanted and versions.same(job.current, job.wanted):
                settled += self._engine.job_update(
                    job.job_uuid, states.SUCCEEDED, version=job.current
                )
            elif job.pending is None and job.wanted:
                settled += self._engine.job_update(
                    job.job_uuid,
                    states.JOB_FAILED,
                    version=job.current,
                    error_code="verify-mismatch",
                    message=f"After activation the device runs {job.current}, not {job.wanted}.",
                )
        return settled
