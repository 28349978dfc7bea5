"""ARQ use cases: create, bind, unbind and delete with the state rules (contract §10.1),
and program at bind.

``Arqs`` is what the API calls: each entry point begins and commits its transaction, then
casts to the conductor. The functions below it take the caller's session: they are the rules,
which the conductor's engine also runs (``finish_waiting``) and tests drive directly. The
rules are ``arqs/states.py`` and the SQL (conditional state changes, attach-handle claims)
``db/binding.py``.

Program at bind: an ARQ whose profile group names ``accel:bitstream_id`` or
``accel:function_id`` claims its handle at once but stays ``BindStarted`` while its FPGA loads
that bitstream (a one-device program rollout the conductor drives), unless the FPGA already
runs it; the engine then ends it ``Bound`` or ``BindFailed`` (``finish_waiting``).

Lending (issue 17): a device in a lending pool binds as before for an ARQ of the pool's
owner project (whoever sends the bind: the ARQ's project decides). A borrower's ARQ may bind
it only while it is offered and the pool lends to that project; the bind then opens a loan
in the same transaction. Otherwise the ARQ ends ``BindFailed`` with the reason in its
``error`` (``lending.offers.may_borrow``), so a stale scheduler view never lends what is not
lent. Unbinding or deleting an ARQ closes its loan in the same transaction. A bind batch
costs one indexed look-up more (``db.lending_devices.pooled_by_rp``), an unbind or delete
batch one (the loans by ARQ uuid); devices outside every pool behave exactly as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.arqs import states
from cyborg_lite.context import RequestContext
from cyborg_lite.db import arqs as db_arqs
from cyborg_lite.db import binding as db_binding
from cyborg_lite.db import device_profiles as db_profiles
from cyborg_lite.db import lending_devices, models
from cyborg_lite.db import loans as db_loans
from cyborg_lite.db import programming as db_programming
from cyborg_lite.db.engine import Database
from cyborg_lite.firmware import programming
from cyborg_lite.usecases import loans, ports, programs


class Arqs:
    """The ARQ API's use cases, one transaction each; the conductor is told after the commit.

    Each method runs the same-named rule below in its own transaction. ``project_id`` is the
    project whose ARQs the caller may act on (None: every project, for an admin).
    """

    def __init__(self, db: Database, conductor: ports.Conductor) -> None:
        self._db = db
        self._conductor = conductor

    def create(self, profile_name: str, *, project_id: str | None) -> list[db_arqs.ArqView]:
        """One ARQ per accelerator the device profile ``profile_name`` asks for (404 for an
        unknown profile), in ``project_id``."""
        with self._db.transaction() as session:
            profile = db_profiles.get_by_name(session, profile_name)
            return db_arqs.create_for_profile(
                session, profile, db_profiles.groups_of(profile), project_id=project_id
            )

    def bind(
        self,
        ctx: RequestContext,
        targets: Mapping[str, states.BindTarget],
        *,
        project_id: str | None,
    ) -> dict[str, str]:
        """Bind the ARQs of ``targets``, all or none (``bind``'s rules); returns each one's
        state. After the commit the conductor starts the bitstream loads that program at bind
        asked for, and tells Nova of the binds already over; those still ``BindStarted``
        wait for their load, and the conductor tells Nova when it ends, as Nova expects of
        Cyborg's asynchronous bind."""
        loads: list[str] = []  # program rollouts started by program at bind
        with self._db.transaction() as session:
            out = bind(session, targets, project_id=project_id, started=loads)
        for rollout_uuid in loads:
            self._conductor.rollout_changed(ctx, rollout_uuid)
        resolved = {uuid: state for uuid, state in out.items() if states.is_resolved(state)}
        if resolved:
            # Only after the commit: Nova reads the ARQs as soon as it has the event.
            self._conductor.arqs_bound(ctx, states.bound_instances(targets, resolved))
        return out

    def unbind(self, uuids: Sequence[str], *, project_id: str | None) -> None:
        """Unbind the ARQs ``uuids``, all or none (``unbind``'s rules)."""
        with self._db.transaction() as session:
            unbind(session, uuids, project_id=project_id)

    def delete(self, uuids: Sequence[str], *, project_id: str | None, service: bool) -> None:
        """Delete the ARQs ``uuids`` that ``project_id`` can see (``delete``'s rules), then,
        as Cyborg does, report the first one not found (404)."""
        with self._db.transaction() as session:
            found, missing = db_arqs.find(session, uuids, project_id=project_id)
            delete(session, found, service=service)
        if missing:
            raise exception.NotFound(f"ExtArq not found with uuid={missing[0]}")

    def delete_instance(self, instance_uuid: str, *, project_id: str | None) -> None:
        """Delete every ARQ of the instance ``instance_uuid`` (the caller checked that a
        service asks)."""
        with self._db.transaction() as session:
            found = db_arqs.of_instance(session, instance_uuid, project_id=project_id)
            delete(session, found, service=True)


def start_bind(
    session: orm.Session, arq: models.AcceleratorRequest, target: states.BindTarget
) -> None:
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
    if not db_binding.transition(session, arq.id, states.BIND_STARTED, **values):
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
    device_rp_uuid = db_binding.binding_rp(session, arq_id)
    if device_rp_uuid is None:
        raise exception.ConcurrentUpdate(f"Accelerator request {arq_id} is no longer binding.")
    handle_id = db_binding.claim_handle(session, device_rp_uuid)
    if handle_id is None:
        if not db_binding.transition(
            session, arq_id, states.BIND_FAILED, error=_no_handle(device_rp_uuid)
        ):
            raise exception.ConcurrentUpdate()
        return states.BIND_FAILED
    if hold:
        if not db_binding.hold_handle(session, arq_id, handle_id):
            raise exception.ConcurrentUpdate()
        return states.BIND_STARTED
    if not db_binding.transition(
        session,
        arq_id,
        states.BOUND,
        expect={"attach_handle_id": None},
        attach_handle_id=handle_id,
    ):
        raise exception.ConcurrentUpdate()
    return states.BOUND


def fail_held(session: orm.Session, arq_id: int, reason: str) -> str:
    """End a ``BindStarted`` ARQ that holds a handle as ``BindFailed`` with ``reason``,
    freeing the handle."""
    held = db_binding.lock(session, arq_id)
    if not db_binding.transition(
        session, arq_id, states.BIND_FAILED, error=reason, attach_handle_id=None
    ):
        raise exception.ConcurrentUpdate()
    if held.attach_handle_id is not None:
        db_binding.release_handle(session, held.attach_handle_id)
    # A borrower's program at bind opened its loan when it claimed the handle.
    db_loans.close_for_arqs(session, [held.uuid])
    return states.BIND_FAILED


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
    if state != states.BIND_STARTED:
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
    return states.BIND_STARTED


def finish_program_bind(session: orm.Session, arq_id: int, reason: str | None) -> str:
    """End a program-at-bind ARQ: ``Bound`` with the handle it holds (no ``reason``), or
    ``BindFailed`` with ``reason``."""
    if reason is not None:
        return fail_held(session, arq_id, reason)
    if not db_binding.transition(session, arq_id, states.BOUND):
        raise exception.ConcurrentUpdate()
    return states.BOUND


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
    targets: Mapping[str, states.BindTarget],
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
    pooled = lending_devices.pooled_by_rp(session, [t.device_rp_uuid for t in targets.values()])
    out: dict[str, str] = {}
    for arq in found:
        target = targets[arq.uuid]
        # start_bind set the project when the target names one.
        arq_project = target.project_id if target.project_id is not None else arq.project_id
        lent = pooled.get(target.device_rp_uuid)
        borrowing = lent is not None and arq_project != lent.owner_project_id
        if lent is not None and borrowing:
            refusal = loans.borrow_refusal(session, lent, arq_project)
            if refusal is not None:
                out[arq.uuid] = refuse(session, arq.id, refusal)
                continue
        want = programming.wanted(db_binding.group_of(session, arq))
        if want is None:
            out[arq.uuid] = allocate(session, arq.id)
        else:
            session.refresh(arq)  # start_bind wrote its bind fields with a Core UPDATE
            out[arq.uuid] = bind_with_program(
                session, arq, want, started=started if started is not None else []
            )
        if lent is not None and borrowing and out[arq.uuid] in db_loans.HOLDING:
            loans.open_for_bind(session, lent, str(arq_project), arq.uuid, target.instance_uuid)
    return out


def refuse(session: orm.Session, arq_id: int, reason: str) -> str:
    """End a ``BindStarted`` ARQ that holds nothing as ``BindFailed`` with ``reason``."""
    if not db_binding.transition(session, arq_id, states.BIND_FAILED, error=reason):
        raise exception.ConcurrentUpdate()
    return states.BIND_FAILED


def _let_go(
    session: orm.Session, row: db_binding.Held, arq_id: int, target: str, **values: Any
) -> None:
    """Move the ARQ read as ``row`` to ``target`` with its bind fields cleared (and
    ``values``), then free the attach handle it held."""
    cleared = db_binding.transition(
        session,
        arq_id,
        target,
        # Compare-and-set on what was read, so the handle freed is the one the ARQ held.
        expect={"state": row.state, "attach_handle_id": row.attach_handle_id},
        hostname=None,
        device_rp_uuid=None,
        attach_handle_id=None,
        **values,
    )
    if not cleared:
        raise exception.ConcurrentUpdate()
    if row.attach_handle_id is not None:
        db_binding.release_handle(session, row.attach_handle_id)


def unbind_one(session: orm.Session, arq_id: int) -> None:
    """Clear the bind fields, free the attach handle and move to ``Unbound``.

    Unbinding an ``Unbound`` ARQ changes nothing; a ``Deleting`` one is a Conflict.
    """
    row = db_binding.lock(session, arq_id)
    if row.state == states.UNBOUND:
        return
    if not states.can_transition(row.state, states.UNBOUND):
        raise exception.Conflict(f"Accelerator request {row.uuid} is being deleted.")
    _let_go(session, row, arq_id, states.UNBOUND, instance_uuid=None)


def revoke(session: orm.Session, arq_uuid: str, reason: str, *, now: dt.datetime) -> list[str]:
    """Take a lent device back from the borrower's ARQ ``arq_uuid`` once its reclaim took
    effect (the lending engine): the ARQ ends ``BindFailed`` with ``reason`` in its
    ``error``, its attach handle freed and its host and device RP cleared, and its open loan
    is closed at ``now``; returns the loans closed.

    Not ``Unbound``: the ARQ keeps its ``instance_uuid``, so Nova's delete of the server
    still finds and deletes it, and Nova refuses to start the server again with a device
    that is no longer its own (an ARQ of the instance that is not ``Bound``). An ARQ that no
    longer holds a device (unbound, deleted) changes nothing but its loan's close.
    """
    found, _ = db_arqs.find(session, [arq_uuid], project_id=None)
    for arq in found:
        row = db_binding.lock(session, arq.id)
        if row.state in db_loans.HOLDING:
            _let_go(session, row, arq.id, states.BIND_FAILED, error=reason)
    return db_loans.close_for_arqs(session, [arq_uuid], now=now)


def unbind(session: orm.Session, uuids: Sequence[str], *, project_id: str | None) -> None:
    """Unbind the ARQs ``uuids``, all or none; 404 for one ``project_id`` cannot see."""
    found, missing = db_arqs.find(session, uuids, project_id=project_id)
    if missing:
        raise exception.NotFound(f"ExtArq not found with uuid={missing[0]}")
    for arq in found:
        unbind_one(session, arq.id)
    db_loans.close_for_arqs(session, [arq.uuid for arq in found])


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
        if arq.state not in (states.INITIAL, states.UNBOUND, states.DELETING):
            unbind_one(session, arq.id)
        elif arq.attach_handle_id is not None:
            # Not unbindable (Deleting) yet holding a handle: free it all the same.
            db_binding.release_handle(session, arq.attach_handle_id)
    db_loans.close_for_arqs(session, [arq.uuid for arq in arqs])
    db_arqs.delete_rows(session, [arq.id for arq in arqs])
