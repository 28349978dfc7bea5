"""An agent's news of a job, applied in the engine's one transaction for it.

``record`` moves the job only forward (duplicates and late messages change nothing). For a job
that ended it also ends the program the job carried out and the binds that waited for it, gives
the device back to binding, and records the flashed version. What follows the commit (the
notification, Placement's restore, Nova, advancing the rollout) is ``rollout.Engine``'s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from oslo_log import log as logging
from sqlalchemy import orm

from cyborg_lite.db import rollout_jobs as db_jobs
from cyborg_lite.firmware import states
from cyborg_lite.usecases import arqs as arq_cases
from cyborg_lite.usecases import programs

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Recorded:
    """A result that moved its job: whose job it was, and the binds its end settled."""

    rollout_uuid: str
    device_uuid: str
    # Binds that waited for a bitstream load and are now over: {arq: (instance, state)}.
    bound: dict[str, tuple[str, str]]


def record(
    session: orm.Session,
    job_uuid: str,
    state: str,
    *,
    clock: Callable[[], dt.datetime],
    version: str | None,
    error_code: str | None,
    message: str | None,
) -> Recorded | None:
    """Apply ``state`` to the job if it moves the job forward; None when it changed nothing."""
    job = db_jobs.brief(session, job_uuid)
    if job is None:
        LOG.warning("Update for unknown job %s ignored", job_uuid)
        return None
    if not states.can_move(job.state, state):
        return None
    values: dict[str, Any] = {}
    if state in states.TERMINAL:
        values.update(
            finished_at=clock(),
            version_after=version,
            error_code=error_code,
            error=message,
        )
    if not db_jobs.move(session, job_uuid, states.sources(state), state, **values):
        return None
    bound: dict[str, tuple[str, str]] = {}
    if state in states.TERMINAL:
        loaded = programs.finished(
            session,
            state,
            device_uuid=job.device_uuid,
            component=job.component,
            rollout_uuid=job.rollout_uuid,
        )
        if loaded is not None:
            bound = arq_cases.finish_waiting(
                session, job_uuid, loaded, error_code=error_code, message=message
            )
        db_jobs.undrain(session, job.device_uuid, job_uuid)
        if version and state in (states.SUCCEEDED, states.PENDING_ACTIVATION):
            db_jobs.set_component_version(
                session,
                job.device_uuid,
                job.component,
                version,
                pending=state == states.PENDING_ACTIVATION,
            )
    return Recorded(job.rollout_uuid, job.device_uuid, bound)
