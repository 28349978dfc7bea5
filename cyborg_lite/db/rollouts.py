"""Reader and writer functions for rollouts and their jobs (the per-device firmware history)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models, query
from cyborg_lite.firmware import plan, states
from cyborg_lite.firmware import strategy as strategy_mod

ROLLOUT_FILTERS = ("state", "image_uuid")
JOB_FILTERS = ("state", "wave", "hostname", "device_uuid")


def create(
    session: orm.Session,
    image: models.FirmwareImage,
    selector: Mapping[str, Sequence[str]],
    strategy: strategy_mod.Strategy,
    the_plan: plan.Plan,
    *,
    user_id: str | None,
    project_id: str | None,
    rollback_of: str | None = None,
    kind: str | None = None,
) -> models.Rollout:
    """The rollout and one pending job per planned device, in the caller's transaction."""
    now = models.utcnow()
    rollout = models.Rollout(
        image_id=image.id,
        image_uuid=image.uuid,
        component=image.component,
        target_version=image.version,
        selector=json.dumps({k: list(v) for k, v in selector.items()}),
        strategy=json.dumps(strategy.to_dict()),
        state=states.RUNNING if the_plan.total else states.COMPLETED,
        current_wave=0,
        wave_count=len(the_plan.waves),
        message=None if the_plan.total else "Nothing to do: no selected device needs the image.",
        rollback_of=rollback_of,
        kind=kind,
        created_by_user=user_id,
        created_by_project=project_id,
        started_at=now,
        finished_at=None if the_plan.total else now,
    )
    session.add(rollout)
    session.flush()
    rows = [
        {
            "uuid": models.new_uuid(),
            "rollout_id": rollout.id,
            "device_uuid": c.uuid,
            "hostname": c.hostname,
            "component": image.component,
            "wave": wave,
            "position": position,
            "state": states.PENDING,
            "attempts": 0,
            "version_before": c.current_version,
            "created_at": now,
        }
        for position, (wave, c) in enumerate(
            (w, c) for w, cands in enumerate(the_plan.waves) for c in cands
        )
    ]
    if rows:
        session.execute(sa.insert(models.RolloutJob), rows)
    return rollout


def get(session: orm.Session, uuid: str, *, lock: bool = False) -> models.Rollout:
    """The rollout with ``uuid`` (row-locked with ``lock``), or NotFound."""
    stmt = sa.select(models.Rollout).where(models.Rollout.uuid == uuid)
    if lock:
        stmt = stmt.with_for_update()
    rollout = session.scalar(stmt)
    if rollout is None:
        raise exception.NotFound(f"Firmware rollout not found with uuid={uuid}")
    return rollout


def lock(session: orm.Session, uuid: str) -> models.Rollout | None:
    """The rollout with ``uuid``, locked until the transaction ends, or None.

    It writes first (a generation bump): on SQLite that takes the database's write lock for
    the transaction, on PostgreSQL and MySQL the row's; either way one engine pass at a time
    per rollout.
    """
    result = session.execute(
        sa.update(models.Rollout)
        .where(models.Rollout.uuid == uuid)
        .values(generation=models.Rollout.generation + 1)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return get(session, uuid, lock=True)


def by_id(session: orm.Session, rollout_id: int) -> models.Rollout | None:
    """The rollout with the primary key ``rollout_id`` (a job's ``rollout_id``), or None."""
    return session.scalar(sa.select(models.Rollout).where(models.Rollout.id == rollout_id))


def unfinished(session: orm.Session) -> list[str]:
    """Uuids of the rollouts that still need driving, oldest first."""
    return list(
        session.scalars(
            sa.select(models.Rollout.uuid)
            .where(models.Rollout.state.in_(states.UNFINISHED))
            .order_by(models.Rollout.id)
        )
    )


def find(session: orm.Session, uuid: str) -> models.Rollout | None:
    """The rollout with ``uuid``, or None (the engine's watchdog skips a rollout gone since)."""
    return session.scalar(sa.select(models.Rollout).where(models.Rollout.uuid == uuid))


def list_rollouts(
    session: orm.Session,
    filters: Mapping[str, str],
    *,
    limit: int | None = None,
    marker: str | None = None,
) -> list[models.Rollout]:
    """Rollouts matching the filters, oldest first."""
    stmt = sa.select(models.Rollout)
    for name in ROLLOUT_FILTERS:
        if name in filters:
            stmt = stmt.where(getattr(models.Rollout, name) == filters[name])
    stmt = query.paginate(session, stmt, models.Rollout, limit=limit, marker=marker)
    return list(session.scalars(stmt))


@dataclasses.dataclass
class Progress:
    """Counts of a rollout's jobs: overall and per wave, by state."""

    by_state: dict[str, int]
    by_wave: dict[int, dict[str, int]]
    # Mean seconds of the jobs that finished (the ETA's basis), or None.
    mean_job_seconds: float | None


def progress(session: orm.Session, rollout_ids: Sequence[int]) -> dict[int, Progress]:
    """Progress of several rollouts in two aggregate queries (no per-job rows loaded)."""
    out = {rid: Progress({}, {}, None) for rid in rollout_ids}
    if not rollout_ids:
        return out
    job = models.RolloutJob
    counts = session.execute(
        sa.select(job.rollout_id, job.wave, job.state, sa.func.count())
        .where(job.rollout_id.in_(rollout_ids))
        .group_by(job.rollout_id, job.wave, job.state)
    ).all()
    for rollout_id, wave, state, n in counts:
        p = out[rollout_id]
        p.by_state[state] = p.by_state.get(state, 0) + n
        p.by_wave.setdefault(wave, {})[state] = n
    finished = session.execute(
        sa.select(job.rollout_id, job.started_at, job.finished_at)
        .where(
            job.rollout_id.in_(rollout_ids),
            job.state == states.SUCCEEDED,
            job.started_at.is_not(None),
            job.finished_at.is_not(None),
        )
        .order_by(job.finished_at.desc())
        .limit(200 * len(rollout_ids))
    ).all()
    spans: dict[int, list[float]] = {}
    for rollout_id, started, ended in finished:
        if started is None or ended is None:
            continue
        spans.setdefault(rollout_id, []).append((ended - started).total_seconds())
    for rollout_id, values in spans.items():
        out[rollout_id].mean_job_seconds = sum(values) / len(values)
    return out


def list_jobs(
    session: orm.Session,
    rollout: models.Rollout,
    filters: Mapping[str, Any],
    *,
    limit: int | None = None,
    marker: str | None = None,
) -> list[models.RolloutJob]:
    """A rollout's jobs in plan order, filtered and paged in SQL."""
    stmt = sa.select(models.RolloutJob).where(models.RolloutJob.rollout_id == rollout.id)
    for name in JOB_FILTERS:
        if name in filters:
            stmt = stmt.where(getattr(models.RolloutJob, name) == filters[name])
    stmt = query.paginate(session, stmt, models.RolloutJob, limit=limit, marker=marker)
    return list(session.scalars(stmt))


def set_state(
    session: orm.Session,
    rollout: models.Rollout,
    allowed_from: Sequence[str],
    new_state: str,
    *,
    action: str,
    user_id: str | None,
    project_id: str | None = None,
    message: str | None = None,
) -> None:
    """Move ``rollout`` to ``new_state`` if it is in one of ``allowed_from``, else 409."""
    if rollout.state not in allowed_from:
        raise exception.Conflict(
            f"Cannot {action} rollout {rollout.uuid}: it is {rollout.state} "
            f"(allowed from: {', '.join(allowed_from)})."
        )
    now = models.utcnow()
    rollout.state = new_state
    rollout.last_action = action
    rollout.last_action_by_user = user_id
    rollout.last_action_by_project = project_id
    rollout.last_action_at = now
    rollout.generation += 1
    if message is not None:
        rollout.message = message
    if new_state not in states.UNFINISHED:
        rollout.finished_at = now


def cancel_pending(session: orm.Session, rollout: models.Rollout) -> int:
    """Cancel every job that has not started; in-flight jobs are left to finish."""
    result = session.execute(
        sa.update(models.RolloutJob)
        .where(
            models.RolloutJob.rollout_id == rollout.id,
            models.RolloutJob.state == states.PENDING,
        )
        .values(state=states.CANCELLED, finished_at=models.utcnow(), updated_at=models.utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def unfinished_using_image(session: orm.Session, image_id: int) -> list[str]:
    """Uuids of unfinished rollouts of an image (it may not be deleted while there are any)."""
    return list(
        session.scalars(
            sa.select(models.Rollout.uuid).where(
                models.Rollout.image_id == image_id,
                models.Rollout.state.in_(states.UNFINISHED),
            )
        )
    )


def device_history(
    session: orm.Session, device_uuid: str
) -> list[tuple[models.RolloutJob, models.Rollout]]:
    """Every job that touched a device, oldest first, with its rollout."""
    stmt = (
        sa.select(models.RolloutJob, models.Rollout)
        .join(models.Rollout, models.Rollout.id == models.RolloutJob.rollout_id)
        .where(models.RolloutJob.device_uuid == device_uuid)
        .order_by(models.RolloutJob.id)
    )
    return [(job, rollout) for job, rollout in session.execute(stmt).all()]
