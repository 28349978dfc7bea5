"""What the rollout engine talks to, and its tunables: the agents, the scheduler's drain, the
settings, and the job payload sent to an agent."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import orm

from cyborg_lite.db import models
from cyborg_lite.db import rollout_jobs as db_jobs
from cyborg_lite.firmware import strategy as strategy_mod


class Agents(Protocol):
    """How the engine reaches agents (the agent RPC client in production)."""

    def flash(self, hostname: str, job: dict[str, Any]) -> None:
        """Ask the agent on ``hostname`` to run ``job`` (a cast: no answer awaited)."""

    def job_status(self, hostname: str, job_uuid: str) -> dict[str, Any] | None:
        """What the agent knows of a job: ``{"state": ..., ...}``; None when unknown or
        unreachable."""


class Scheduling(Protocol):
    """Taking a device out of scheduling beyond SQL (Placement ``reserved``), if configured."""

    def drain(self, device_uuid: str) -> None:
        """Stop new allocations on the device."""

    def restore(self, device_uuid: str) -> None:
        """Allow allocations again."""


class NoScheduling:
    """No Placement: the drain in SQL (no new binds) is all there is."""

    def drain(self, device_uuid: str) -> None:
        """Nothing beyond SQL."""

    def restore(self, device_uuid: str) -> None:
        """Nothing beyond SQL."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Engine tunables (from ``[conductor]``)."""

    lease_seconds: float = 30.0
    job_timeout_seconds: float = 1800.0
    max_attempts: int = 3


def next_open(window: strategy_mod.Window, now: dt.datetime) -> dt.datetime:
    """The first minute at or after ``now`` (naive UTC) when ``window`` is open."""
    probe = now.replace(second=0, microsecond=0)
    for _ in range(24 * 60 + 1):
        if window.is_open(probe.replace(tzinfo=dt.UTC)):
            return max(probe, now)
        probe += dt.timedelta(minutes=1)
    return now + dt.timedelta(hours=1)  # unreachable for a valid window


def job_payload(
    session: orm.Session, rollout: models.Rollout, job: models.RolloutJob, timeout: float
) -> dict[str, Any]:
    """What the agent needs to run a job: which device, which image (and its digest)."""
    return job_payloads(session, rollout, [job], timeout)[0]


def job_payloads(
    session: orm.Session,
    rollout: models.Rollout,
    jobs: Sequence[models.RolloutJob],
    timeout: float,
) -> list[dict[str, Any]]:
    """``job_payload`` for many jobs of one rollout, in two reads whatever their number."""
    if not jobs:
        return []
    facts = db_jobs.dispatch_facts(
        session, rollout.image_uuid, sorted({job.device_uuid for job in jobs})
    )
    allow_reboot = bool(json.loads(rollout.strategy).get("allow_reboot"))
    return [
        {
            "job_uuid": job.uuid,
            "rollout_uuid": rollout.uuid,
            "hostname": job.hostname,
            "device_uuid": job.device_uuid,
            "stable_id": facts.stable_ids.get(job.device_uuid),
            "component": job.component,
            "image_uuid": rollout.image_uuid,
            "sha256": facts.sha256,
            "size": facts.size,
            "target_version": rollout.target_version,
            "allow_reboot": allow_reboot,
            "timeout": timeout,
        }
        for job in jobs
    ]
