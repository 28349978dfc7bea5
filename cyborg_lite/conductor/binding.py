"""ARQ bind, unbind and delete: the state machine (contract §10.1) and attach-handle claims.

The API calls these synchronously inside one transaction for now; a later change moves
``allocate`` behind the conductor (the API would then stop after ``start_bind``).

Program at bind: an ARQ whose profile group names ``accel:bitstream_id`` or
``accel:function_id`` claims its handle at once but stays ``BindStarted`` while its FPGA loads
that bitstream (a one-device program rollout the conductor drives), unless the FPGA already
runs it; the engine then ends it ``Bound`` or ``BindFailed`` (``finish_waiting``).

Concurrency: every state change is a conditional update (``UPDATE ... WHERE state IN (...)``),
so of two writers racing on one ARQ only one wins. A handle is claimed under a row lock
(``FOR UPDATE SKIP LOCKED``, so concurrent binders take different free handles instead of
queueing on the same one) *and* by a conditional ``UPDATE ... WHERE in_use = false``, which is
what keeps two ARQs off one handle on SQLite, where row locks do not exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import arqs as db_arqs
from cyborg_lite.db import device_profiles as db_profiles
from cyborg_lite.db import models
from cyborg_lite.db import programming as db_programming
from cyborg_lite.firmware import programming
from cyborg_lite.usecases import programs

AR = models.AcceleratorRequest
AH = models.AttachHandle

# Target state -> the states it may be entered from (contract §10.1).
ALLOWED_FROM: dict[str, frozenset[str]] = {
    db_arqs.BIND_STARTED: frozenset({db_arqs.INITIAL, db_arqs.UNBOUND}),
    db_arqs.BOUND: frozenset({db_arqs.BIND_STARTED}),
    db_arqs.UNBOUND: frozenset(
        {db_arqs.INITIAL, db_arqs.BIND_STARTED, db_arqs.BOUND, db_arqs.BIND_FAILED}
    ),
    db_arqs.BIND_FAILED: frozenset({db_arqs.BIND_STARTED, db_arqs.BOUND}),
    db_arqs.DELETING: frozenset(set(db_arqs.STATES) - {db_arqs.DELETING}),
}

MAINTAINING = "maintaining"
# A lost claim race means that handle just became used, so each retry sees fewer candidates;
# the bound only guards against a pathological claim/release churn.
_CLAIM_ATTEMPTS = 64


@dataclasses.dataclass(frozen=True)
class BindTarget:
    """Where Nova placed an ARQ: the compute node, the deployable's RP and the instance."""

    hostname: str
    device_rp_uuid: str
    instance_uuid: str
    project_id: str | None = None


def can_transition(current: str, target: str) -> bool:
    """True when an ARQ in ``current`` may move to ``target``."""
    return current in ALLOWED_FROM[target]


def is_resolved(state: str) -> bool:
    """True when binding is over for an ARQ in ``state`` (Nova stops waiting)."""
    return state in db_arqs.RESOLVED


def schedulable(status: str, firmware_drain: str | None) -> bool:
    """False for a device in maintenance or drained for a firmware job: never bound."""
    return status != MAINTAINING and firmware_drain is None


def bound_instances(
    targets: Mapping[str, BindTarget], states: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """``{arq uuid: (instance uuid, final state)}`` of a finished bind batch, for Nova."""
    return {uuid: (targets[uuid].instance_uuid, state) for uuid, state in states.items()}


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def transition(
    session: orm.Session,
    arq_id: int,
    target: str,
    *,
    expect: Mapping[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Move ARQ ``arq_id`` to ``target`` (setting ``values``) if its state allows it and its
    columns still hold ``expect``; False when another writer got there first."""
    stmt = sa.update(AR).where(AR.id == arq_id, AR.state.in_(sorted(ALLOWED_FROM[target])))
    for column, value in (expect or {}).items():
        stmt = stmt.where(
            getattr(AR, column).is_(None) if value is None else getattr(AR, column) == value
        )
    stmt = stmt.values(state=target, **values).execution_options(synchronize_session=False)
    return _rowcount(session.execute(stmt)) == 1


def claim_handle(session: orm.Session, device_rp_uuid: str) -> int | None:
    """Mark a free attach handle of the deployable whose RP is ``device_rp_uuid`` in use and
    return its id; None when there is no such deployable, its device is in maintenance or
    drained for a firmware job, or every handle is taken."""
    deployable = session.execute(
        sa.select(models.Deployable.id, models.Device.status, models.Device.firmware_drain)
        .join(models.Device, models.Device.id == models.Deployable.device_id)
        .where(models.Deployable.rp_uuid == device_rp_uuid)
    ).first()
    if deployable is None or not schedulable(deployable.status, deployable.firmware_drain):
        return None
    for _ in range(_CLAIM_ATTEMPTS):
        candidate = session.scalar(
            sa.select(AH.id)
            .where(AH.deployable_id == deployable.id, AH.in_use.is_(False))
            .order_by(AH.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if candidate is None:
            return None
        claimed = session.execute(
            sa.update(AH)
            .where(AH.id == candidate, AH.in_use.is_(False))
            .values(in_use=True)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(claimed) == 1:
            return int(candidate)
    return None


def release_handle(session: orm.Session, handle_id: int) -> None:
    """Mark attach handle ``handle_id`` free again."""
    session.execute(
        sa.update(AH)
        .where(AH.id == handle_id)
        .values(in_use=False)
        .execution_options(synchronize_session=False)
    )


def start_bind(session: orm.Session, arq: models.AcceleratorRequest, target: BindTarget) -> None:
    """Set the bind fields and move to ``BindStarted``; Conflict unless Initial or Unbound."""
    values: dict[str, Any] = {
        "hostname": target.hostname,
        "device_rp_uuid": target.device_rp_uuid,
        "instance_uuid": target.instance_uuid,
        "error": None,
        "program_job_uuid": None,
    }
    if target.project_id is not None:
        values["project_id"] = target.project_id
    if not transition(session, arq.id, db_arqs.BIND_STARTED, **values):
        raise exception.Conflict(
            f"Accelerator request {arq.uuid} cannot be bound in state {arq.state}; only "
            "Initial or Unbound requests can be bound."
        )


def _no_handle(device_rp_uuid: str) -> str:
    return (
        f"No attach handle could be claimed on the deployable with resource provider "
        f"{device_rp_uuid}: there is none, its device is in maintenance or being flashed, or "
        "every handle is taken."
    )


def allocate(session: orm.Session, arq_id: int, *, hold: bool = False) -> str:
    """Give a ``BindStarted`` ARQ an attach handle: ``Bound``, or ``BindFailed`` when none can
    be had. With ``hold`` the ARQ keeps the handle but stays ``BindStarted`` (a load comes
    first). Returns the state the ARQ ends in."""
    device_rp_uuid = session.scalar(
        sa.select(AR.device_rp_uuid).where(AR.id == arq_id, AR.state == db_arqs.BIND_STARTED)
    )
    if device_rp_uuid is None:
        raise exception.ConcurrentUpdate(f"Accelerator request {arq_id} is no longer binding.")
    handle_id = claim_handle(session, device_rp_uuid)
    if handle_id is None:
        if not transition(session, arq_id, db_arqs.BIND_FAILED, error=_no_handle(device_rp_uuid)):
            raise exception.ConcurrentUpdate()
        return db_arqs.BIND_FAILED
    if hold:
        held = session.execute(
            sa.update(AR)
            .where(
                AR.id == arq_id,
                AR.state == db_arqs.BIND_STARTED,
                AR.attach_handle_id.is_(None),
            )
            .values(attach_handle_id=handle_id)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(held) != 1:
            raise exception.ConcurrentUpdate()
        return db_arqs.BIND_STARTED
    if not transition(
        session,
        arq_id,
        db_arqs.BOUND,
        expect={"attach_handle_id": None},
        attach_handle_id=handle_id,
    ):
        raise exception.ConcurrentUpdate()
    return db_arqs.BOUND


def fail_held(session: orm.Session, arq_id: int, reason: str) -> str:
    """End a ``BindStarted`` ARQ that holds a handle as ``BindFailed`` with ``reason``,
    freeing the handle."""
    handle_id = session.scalar(sa.select(AR.attach_handle_id).where(AR.id == arq_id))
    if not transition(session, arq_id, db_arqs.BIND_FAILED, error=reason, attach_handle_id=None):
        raise exception.ConcurrentUpdate()
    if handle_id is not None:
        release_handle(session, handle_id)
    return db_arqs.BIND_FAILED


def bind_with_program(
    session: orm.Session,
    arq: models.AcceleratorRequest,
    want: tuple[str, str],
    *,
    started: list[str],
) -> str:
    """Program at bind: claim the handle, then load the wanted bitstream unless the FPGA runs
    it already. Returns ``Bound``, ``BindStarted`` (a load runs; its rollout uuid is added to
    ``started``) or ``BindFailed`` (the reason in the ARQ's ``error``)."""
    state = allocate(session, arq.id, hold=True)
    if state != db_arqs.BIND_STARTED:
        return state
    target = db_programming.target_by_rp(session, str(arq.device_rp_uuid))
    if target is None:  # the handle was claimed, so the deployable exists
        raise exception.ConcurrentUpdate()
    try:
        kind, value = want
        image_uuid = (
            value if kind == "bitstream_id" else programs.image_for_function(session, target, value)
        )
        # start() refuses before it writes anything, so a refusal leaves the claim and the
        # other ARQs of this request as they are, and only this one fails.
        program = programs.start(
            session,
            target.deployable_uuid,
            image_uuid,
            user_id=None,
            project_id=arq.project_id,
            at_bind=True,
        )
    except (exception.Invalid, exception.Conflict, exception.NotFound) as err:
        return fail_held(session, arq.id, f"Cannot load the bitstream the profile asks for: {err}")
    if program.job_uuid is None:  # the FPGA already runs it
        return finish_program_bind(session, arq.id, None)
    db_programming.set_program_job(session, arq.id, program.job_uuid)
    started.append(str(program.rollout_uuid))
    return db_arqs.BIND_STARTED


def finish_program_bind(session: orm.Session, arq_id: int, reason: str | None) -> str:
    """End a program-at-bind ARQ: ``Bound`` with the handle it holds (no ``reason``), or
    ``BindFailed`` with ``reason``."""
    if reason is not None:
        return fail_held(session, arq_id, reason)
    if not transition(session, arq_id, db_arqs.BOUND):
        raise exception.ConcurrentUpdate()
    return db_arqs.BOUND


def finish_waiting(
    session: orm.Session,
    job_uuid: str,
    loaded: bool,
    *,
    error_code: str | None,
    message: str | None,
) -> dict[str, tuple[str, str]]:
    """The ARQs whose bind waited for the program job ``job_uuid``: ``Bound`` when it loaded
    the bitstream, else ``BindFailed`` with the reason. Returns ``{arq uuid: (instance uuid,
    final state)}`` for Nova's events."""
    reason = None
    if not loaded:
        reason = (
            f"Loading the bitstream for this request failed ({error_code or 'not loaded'}): "
            f"{message or 'no detail'}"
        )
    return {
        arq.uuid: (arq.instance_uuid or "", finish_program_bind(session, arq.id, reason))
        for arq in db_programming.waiting_for(session, job_uuid)
    }


def bind(
    session: orm.Session,
    targets: Mapping[str, BindTarget],
    *,
    project_id: str | None,
    started: list[str] | None = None,
) -> dict[str, str]:
    """Bind every ARQ named in ``targets`` (uuid -> target), all or none; returns each
    ARQ's state (``Bound`` or ``BindFailed``; ``BindStarted`` while a bitstream loads for it,
    its program rollout's uuid then added to ``started``).

    400 when an instance already has ARQs (no hot-add), 404 for an ARQ ``project_id`` cannot
    see, 409 for one that is not Initial or Unbound.
    """
    found, missing = db_arqs.find(session, list(targets), project_id=project_id)
    if missing:
        raise exception.NotFound(f"ExtArq not found with uuid={missing[0]}")
    busy = db_arqs.instances_with_arqs(session, (t.instance_uuid for t in targets.values()))
    if busy:
        raise exception.Invalid(
            f"Instance {sorted(busy)[0]} already has accelerator requests. Cannot bind "
            "additional ARQs."
        )
    for arq in found:
        start_bind(session, arq, targets[arq.uuid])
    out: dict[str, str] = {}
    for arq in found:
        want = programming.wanted(_group(session, arq))
        if want is None:
            out[arq.uuid] = allocate(session, arq.id)
        else:
            session.refresh(arq)  # start_bind wrote its bind fields with a Core UPDATE
            out[arq.uuid] = bind_with_program(
                session, arq, want, started=started if started is not None else []
            )
    return out


def _group(session: orm.Session, arq: models.AcceleratorRequest) -> dict[str, str]:
    """The device profile group an ARQ was made from (profiles are immutable)."""
    profile = session.get(models.DeviceProfile, arq.device_profile_id)
    groups = db_profiles.groups_of(profile) if profile is not None else []
    index = arq.device_profile_group_id
    return groups[index] if 0 <= index < len(groups) else {}


def unbind_one(session: orm.Session, arq_id: int) -> None:
    """Clear the bind fields, free the attach handle and move to ``Unbound``.

    Unbinding an ``Unbound`` ARQ changes nothing; a ``Deleting`` one is a Conflict.
    """
    row = session.execute(
        sa.select(AR.uuid, AR.state, AR.attach_handle_id).where(AR.id == arq_id).with_for_update()
    ).one()
    if row.state == db_arqs.UNBOUND:
        return
    if not can_transition(row.state, db_arqs.UNBOUND):
        raise exception.Conflict(f"Accelerator request {row.uuid} is being deleted.")
    cleared = transition(
        session,
        arq_id,
        db_arqs.UNBOUND,
        # Compare-and-set on what was read, so the handle freed is the one the ARQ held.
        expect={"state": row.state, "attach_handle_id": row.attach_handle_id},
        hostname=None,
        device_rp_uuid=None,
        instance_uuid=None,
        attach_handle_id=None,
    )
    if not cleared:
        raise exception.ConcurrentUpdate()
    if row.attach_handle_id is not None:
        release_handle(session, row.attach_handle_id)


def unbind(session: orm.Session, uuids: Sequence[str], *, project_id: str | None) -> None:
    """Unbind the ARQs ``uuids``, all or none; 404 for one ``project_id`` cannot see."""
    found, missing = db_arqs.find(session, uuids, project_id=project_id)
    if missing:
        raise exception.NotFound(f"ExtArq not found with uuid={missing[0]}")
    for arq in found:
        unbind_one(session, arq.id)


def delete(
    session: orm.Session, arqs: Sequence[models.AcceleratorRequest], *, service: bool
) -> None:
    """Unbind (freeing handles) and delete ``arqs``.

    Without a ``service`` token, an ARQ that names an instance is refused (CVE-2026-40214),
    and nothing is deleted.
    """
    if not service and any(arq.instance_uuid is not None for arq in arqs):
        raise exception.ServiceTokenRequired()
    for arq in arqs:
        if arq.state not in (db_arqs.INITIAL, db_arqs.UNBOUND, db_arqs.DELETING):
            unbind_one(session, arq.id)
        elif arq.attach_handle_id is not None:
            # Not unbindable (Deleting) yet holding a handle: free it all the same.
            release_handle(session, arq.attach_handle_id)
    db_arqs.delete_rows(session, [arq.id for arq in arqs])
