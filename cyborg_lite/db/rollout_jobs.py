"""Writer functions for the engine: job transitions and drains, each a conditional update so a
duplicate or late message, or a second conductor, changes nothing it should not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite.db import models
from cyborg_lite.firmware import states

Job = models.RolloutJob
# The hot writers below use the tables, not the ORM classes: a Core UPDATE skips the ORM's
# bulk-update machinery, which was a tenth of the conductor's CPU in a rollout.
_jobs = cast(sa.Table, models.RolloutJob.__table__)
_devices = cast(sa.Table, models.Device.__table__)
_components = cast(sa.Table, models.FirmwareComponent.__table__)
_rollouts = cast(sa.Table, models.Rollout.__table__)
# Uuids per ``IN (...)`` list in the bulk writers and readers: well inside every engine's
# limit on bound parameters.
IN_CHUNK = 500


def move(
    session: orm.Session,
    job_uuid: str,
    allowed_from: Sequence[str],
    new_state: str,
    **values: object,
) -> bool:
    """Move a job from one of ``allowed_from`` to ``new_state``; False when it was elsewhere."""
    values.setdefault("updated_at", models.utcnow())
    result = session.execute(
        sa.update(_jobs)
        .where(_jobs.c.uuid == job_uuid, _jobs.c.state.in_(allowed_from))
        .values(state=new_state, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def move_many(
    session: orm.Session,
    job_uuids: Sequence[str],
    allowed_from: Sequence[str],
    new_state: str,
    chunk: int = IN_CHUNK,
    **values: object,
) -> set[str]:
    """``move`` for many jobs, a statement per ``chunk`` of them; returns the uuids that
    moved (all of them, unless some were elsewhere)."""
    values.setdefault("updated_at", models.utcnow())
    moved = 0
    for start in range(0, len(job_uuids), chunk):
        result = session.execute(
            sa.update(_jobs)
            .where(
                _jobs.c.uuid.in_(job_uuids[start : start + chunk]),
                _jobs.c.state.in_(allowed_from),
            )
            .values(state=new_state, **values)
        )
        moved += result.rowcount  # type: ignore[attr-defined]
    if moved == len(job_uuids):
        return set(job_uuids)
    # Rare (another writer got there first): read back which ones are now in the new state.
    found: set[str] = set()
    for start in range(0, len(job_uuids), chunk):
        found.update(
            session.scalars(
                sa.select(_jobs.c.uuid).where(
                    _jobs.c.uuid.in_(job_uuids[start : start + chunk]),
                    _jobs.c.state == new_state,
                )
            )
        )
    return found


def start(
    session: orm.Session,
    job_uuids: Sequence[str],
    *,
    started_at: dt.datetime,
    deadline: dt.datetime,
    chunk: int = IN_CHUNK,
) -> set[str]:
    """Move pending jobs to ``draining``, counting an attempt and setting their deadline;
    returns the uuids that moved (``move_many``)."""
    return move_many(
        session,
        job_uuids,
        [states.PENDING],
        states.DRAINING,
        chunk,
        started_at=started_at,
        attempts=Job.attempts + 1,
        deadline=deadline,
    )


def get(session: orm.Session, job_uuid: str) -> Job | None:
    """The job, or None."""
    return session.scalar(sa.select(Job).where(Job.uuid == job_uuid))


class JobBrief(NamedTuple):
    """What a job's result needs of it: where it stands, its device and rollout."""

    state: str
    device_uuid: str
    component: str
    rollout_uuid: str


def brief(session: orm.Session, job_uuid: str) -> JobBrief | None:
    """The job's state, device, component and rollout uuid in one read, or None."""
    row = session.execute(
        sa.select(_jobs.c.state, _jobs.c.device_uuid, _jobs.c.component, _rollouts.c.uuid)
        .join(_rollouts, _rollouts.c.id == _jobs.c.rollout_id)
        .where(_jobs.c.uuid == job_uuid)
    ).first()
    return None if row is None else JobBrief(str(row[0]), str(row[1]), str(row[2]), str(row[3]))


def wave_counts(session: orm.Session, rollout_id: int, wave: int) -> dict[str, int]:
    """Jobs of one wave by state."""
    rows = session.execute(
        sa.select(Job.state, sa.func.count())
        .where(Job.rollout_id == rollout_id, Job.wave == wave)
        .group_by(Job.state)
    ).all()
    return {str(state): int(n) for state, n in rows}


def in_flight(
    session: orm.Session, rollout_id: int, *, hostnames: Sequence[str] | None = None
) -> list[Job]:
    """The rollout's jobs that have started and not ended (only on ``hostnames`` if given)."""
    stmt = sa.select(Job).where(Job.rollout_id == rollout_id, Job.state.in_(states.IN_FLIGHT))
    if hostnames is not None:
        stmt = stmt.where(Job.hostname.in_(list(hostnames)))
    return list(session.scalars(stmt))


def count_in_flight(session: orm.Session, rollout_id: int) -> int:
    """How many of the rollout's jobs have started and not ended (a COUNT, no rows loaded)."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Job)
            .where(Job.rollout_id == rollout_id, Job.state.in_(states.IN_FLIGHT))
        )
        or 0
    )


def in_flight_by_host(session: orm.Session, hostnames: Sequence[str]) -> dict[str, int]:
    """In-flight jobs per host across every rollout (the per-host limit is global: a host
    flashes one device at a time whoever asked)."""
    if not hostnames:
        return {}
    rows = session.execute(
        sa.select(Job.hostname, sa.func.count())
        .where(Job.hostname.in_(hostnames), Job.state.in_(states.IN_FLIGHT))
        .group_by(Job.hostname)
    ).all()
    return {str(host): int(n) for host, n in rows}


def pending(session: orm.Session, rollout_id: int, wave: int, limit: int) -> list[Job]:
    """The wave's pending jobs in plan order (a bounded look-ahead)."""
    return list(
        session.scalars(
            sa.select(Job)
            .where(Job.rollout_id == rollout_id, Job.wave == wave, Job.state == states.PENDING)
            .order_by(Job.position)
            .limit(limit)
        )
    )


def next_deadline(session: orm.Session, rollout_id: int) -> dt.datetime | None:
    """The earliest deadline of the rollout's in-flight jobs, or None when none is in flight."""
    deadline: dt.datetime | None = session.scalar(
        sa.select(sa.func.min(Job.deadline)).where(
            Job.rollout_id == rollout_id, Job.state.in_(states.IN_FLIGHT)
        )
    )
    return deadline


def overdue(session: orm.Session, rollout_id: int, now: dt.datetime) -> list[Job]:
    """In-flight jobs past their deadline."""
    return list(
        session.scalars(
            sa.select(Job).where(
                Job.rollout_id == rollout_id,
                Job.state.in_(states.IN_FLIGHT),
                Job.deadline < now,
            )
        )
    )


def left_draining(session: orm.Session, rollout_id: int, before: dt.datetime) -> list[Job]:
    """Jobs still ``draining`` that started before ``before``: a live conductor moves a job on
    to ``dispatched`` within a Placement call, so these were left by one that died."""
    return list(
        session.scalars(
            sa.select(Job).where(
                Job.rollout_id == rollout_id,
                Job.state == states.DRAINING,
                Job.started_at < before,
            )
        )
    )


def extend_deadline(session: orm.Session, job_uuid: str, deadline: dt.datetime) -> None:
    """Give a job a new deadline (its agent says it is still on it)."""
    session.execute(
        sa.update(models.RolloutJob)
        .where(models.RolloutJob.uuid == job_uuid)
        .values(deadline=deadline)
        .execution_options(synchronize_session=False)
    )


class AwaitingActivation(NamedTuple):
    """A job waiting for its device's activation, beside what the device last reported."""

    job_uuid: str
    wanted: str | None  # the version the agent flashed (``version_after``)
    current: str  # the component's active version
    pending: str | None  # the version waiting for a reset or reboot, if any


def awaiting_activation(session: orm.Session, hostname: str) -> list[AwaitingActivation]:
    """The host's jobs pending activation, each with its component's versions, in one read."""
    rows = session.execute(
        sa.select(
            models.RolloutJob.uuid,
            models.RolloutJob.version_after,
            models.FirmwareComponent.version,
            models.FirmwareComponent.pending_version,
        )
        .join(models.Device, models.Device.uuid == models.RolloutJob.device_uuid)
        .join(
            models.FirmwareComponent,
            sa.and_(
                models.FirmwareComponent.device_id == models.Device.id,
                models.FirmwareComponent.component == models.RolloutJob.component,
            ),
        )
        .where(
            models.RolloutJob.hostname == hostname,
            models.RolloutJob.state == states.PENDING_ACTIVATION,
        )
    ).all()
    return [AwaitingActivation(*row) for row in rows]


class DispatchFacts(NamedTuple):
    """What job payloads need beyond the jobs and their rollout."""

    sha256: str | None  # the image's digest and size; None when the image is gone
    size: int | None
    stable_ids: dict[str, str]  # device uuid to its stable id, for the devices still known


def dispatch_facts(
    session: orm.Session, image_uuid: str, device_uuids: Sequence[str], chunk: int = IN_CHUNK
) -> DispatchFacts:
    """The image's digest and the devices' stable ids, in two reads whatever their number: a
    pass starting a thousand jobs spent more time on two reads per job than on the jobs."""
    image = session.scalar(
        sa.select(models.FirmwareImage).where(models.FirmwareImage.uuid == image_uuid)
    )
    stable_ids: dict[str, str] = {}
    for start in range(0, len(device_uuids), chunk):
        rows = session.execute(
            sa.select(models.Device.uuid, models.Device.stable_id).where(
                models.Device.uuid.in_(device_uuids[start : start + chunk])
            )
        )
        stable_ids.update({str(uuid): str(stable_id) for uuid, stable_id in rows})
    return DispatchFacts(image.sha256 if image else None, image.size if image else None, stable_ids)


def drain(session: orm.Session, device_uuid: str, job_uuid: str) -> None:
    """Take the device out of binding for this job (idempotent)."""
    session.execute(
        sa.update(_devices).where(_devices.c.uuid == device_uuid).values(firmware_drain=job_uuid)
    )


def drain_many(session: orm.Session, drains: Sequence[tuple[str, str]]) -> None:
    """``drain`` for many ``(device_uuid, job_uuid)`` pairs in one executemany."""
    if drains:
        session.execute(
            sa.update(_devices)
            .where(_devices.c.uuid == sa.bindparam("device"))
            .values(firmware_drain=sa.bindparam("job")),
            [{"device": device, "job": job} for device, job in drains],
        )


def undrain(session: orm.Session, device_uuid: str, job_uuid: str) -> None:
    """Give the device back to scheduling, if this job still holds the drain."""
    session.execute(
        sa.update(_devices)
        .where(_devices.c.uuid == device_uuid, _devices.c.firmware_drain == job_uuid)
        .values(firmware_drain=None)
    )


def held_devices(session: orm.Session, device_uuids: Sequence[str]) -> set[str]:
    """Of these devices, those an ARQ holds (an attach handle in use)."""
    if not device_uuids:
        return set()
    stmt = (
        sa.select(models.Device.uuid)
        .join(models.Deployable, models.Deployable.device_id == models.Device.id)
        .join(models.AttachHandle, models.AttachHandle.deployable_id == models.Deployable.id)
        .join(
            models.AcceleratorRequest,
            models.AcceleratorRequest.attach_handle_id == models.AttachHandle.id,
        )
        .where(models.Device.uuid.in_(device_uuids))
        .distinct()
    )
    return set(session.scalars(stmt))


def set_component_version(
    session: orm.Session, device_uuid: str, component: str, version: str, *, pending: bool
) -> None:
    """Record a flashed version at once (the agent's next report confirms it): active, or
    pending until the device is reset or rebooted."""
    values = (
        {"pending_version": version} if pending else {"version": version, "pending_version": None}
    )
    device_id = sa.select(_devices.c.id).where(_devices.c.uuid == device_uuid).scalar_subquery()
    session.execute(
        sa.update(_components)
        .where(_components.c.device_id == device_id, _components.c.component == component)
        .values(updated_at=models.utcnow(), **values)
    )
